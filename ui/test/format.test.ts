import { describe, expect, it } from 'vitest';
import { anyValueToString, compareNs, formatDuration, formatDurationNs, nsAdd, nsDiff, nsParts, nsToMs, parseDuration } from '../src/format';

describe('nanosecond strings', () => {
  it('splits exactly past 2^53', () => {
    expect(nsParts('1795292629616439909')).toEqual({ sec: 1795292629, nano: 616439909 });
    expect(nsParts('42')).toEqual({ sec: 0, nano: 42 });
    expect(nsParts('')).toEqual({ sec: 0, nano: 0 });
    expect(nsParts('12a')).toEqual({ sec: 0, nano: 0 });
  });
  it('subtracts without losing the last digit', () => {
    // As doubles both would round to the same value.
    expect(nsDiff('1795292629616439909', '1795292629616439908')).toBe(1);
    expect(nsDiff('1795292629616439909', '1795292628999999999')).toBe(616439910);
    expect(nsDiff('1000000000', '1999999999')).toBe(-999999999);
  });
  it('compares numerically', () => {
    expect(compareNs('999', '1000')).toBe(-1);
    expect(compareNs('0001000', '1000')).toBe(0);
    expect(compareNs('1795292629616439909', '1795292629616439908')).toBe(1);
  });
  it('adds offsets and converts to ms', () => {
    expect(nsAdd('1795292629616439909', 91)).toBe('1795292629616440000');
    expect(nsToMs('1795292629616439909')).toBe(1795292629616);
  });
});

describe('durations', () => {
  it('formats across units', () => {
    expect(formatDuration(0)).toBe('0');
    expect(formatDuration(850)).toBe('850ns');
    expect(formatDuration(12_300)).toBe('12.3µs');
    expect(formatDuration(4_560_000)).toBe('4.56ms');
    expect(formatDuration(100_000_000)).toBe('100ms');
    expect(formatDuration(1_910_000_000)).toBe('1.91s');
    expect(formatDuration(125e9)).toBe('2m 5s');
    expect(formatDuration(3 * 3600e9 + 12 * 60e9)).toBe('3h 12m');
    expect(formatDuration(2 * 86400e9 + 4 * 3600e9)).toBe('2d 4h');
    expect(formatDuration(-1_500_000)).toBe('-1.5ms');
    expect(formatDurationNs('950000000')).toBe('950ms');
  });
  it('parses the API syntax', () => {
    expect(parseDuration('250ms')).toBe(250e6);
    expect(parseDuration('1.5s')).toBe(1.5e9);
    expect(parseDuration('100us')).toBe(1e5);
    expect(parseDuration('42')).toBe(42);
    expect(parseDuration('2 m')).toBe(120e9);
    expect(parseDuration('abc')).toBeNull();
    expect(parseDuration('1.5x')).toBeNull();
  });
});

describe('AnyValue', () => {
  it('renders every kind as text', () => {
    expect(anyValueToString({ stringValue: 'a<b>' })).toBe('a<b>');
    expect(anyValueToString({ intValue: '9007199254740993' })).toBe('9007199254740993');
    expect(anyValueToString({ doubleValue: 0.5 })).toBe('0.5');
    expect(anyValueToString({ boolValue: false })).toBe('false');
    expect(anyValueToString({ arrayValue: { values: [{ stringValue: 'alpha' }, { intValue: '2' }] } })).toBe('["alpha", 2]');
    expect(anyValueToString({ kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } })).toBe('{"k": "v"}');
    expect(anyValueToString({ bytesValue: 'AQI=' })).toBe('base64:AQI=');
    expect(anyValueToString(null)).toBe('');
    expect(anyValueToString({})).toBe('');
  });
});

import { serviceColor } from '../src/color';
describe('service colours', () => {
  it('are stable and differ for similar names', () => {
    expect(serviceColor('kestra')).toBe(serviceColor('kestra'));
    const names = ['upstream', 'kestra', 'kestra-webserver', 'downstream'];
    expect(new Set(names.map(serviceColor)).size).toBe(names.length);
    expect(serviceColor('')).toBe('#8a94a6');
  });
});
