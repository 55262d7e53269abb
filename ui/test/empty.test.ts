import { describe, expect, it } from 'vitest';
import { snippets } from '../src/views/empty';

describe('empty-state snippets', () => {
  it('point every SDK at the OTLP/HTTP address Loupe really listens on', () => {
    const all = snippets('http://127.0.0.1:43125');
    expect(all.length).toBeGreaterThan(3);
    for (const s of all) {
      expect(s.code).toContain('http://127.0.0.1:43125');
      expect(s.code).not.toContain(':4318');
    }
  });
  it('keep the default address when nothing moved', () => {
    expect(snippets('http://127.0.0.1:4318')[0].code).toContain('OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318');
  });
});
