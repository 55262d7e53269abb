// The desktop shell's start-up page: polls the server's state through the
// shell's Tauri commands and, when a port is taken, says by which program
// and offers to retry or to use other ports. Every string from the server
// is set as text, never as HTML.

const invoke = (cmd, args) => window.__TAURI_INTERNALS__.invoke(cmd, args);

const $ = (id) => document.getElementById(id);
const sections = ['starting', 'failed', 'stopped', 'ready'];

function show(name) {
  for (const s of sections) $(s).hidden = s !== name;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

let lastShown = '';

function render(status) {
  const key = JSON.stringify(status);
  if (key === lastShown) return;
  lastShown = key;
  if (status.state !== 'failed') {
    show(status.state in { starting: 1, stopped: 1, ready: 1 } ? status.state : 'starting');
    return;
  }
  const { message, ports } = status.problem;
  const list = $('ports');
  list.replaceChildren();
  for (const p of ports) {
    const li = el('li');
    li.dataset.testid = 'shell-port';
    li.dataset.addr = p.addr;
    li.append(el('span', 'what', `Port ${p.port} (${p.what}, ${p.addr}) is taken`), ' ');
    li.append(el('span', 'holder', p.holder ? `by ${p.holder}` : 'by another program (it could not be identified)'));
    list.append(li);
  }
  $('failed-title').textContent = ports.length
    ? ports.length === 1
      ? 'A port Loupe needs is taken'
      : 'Ports Loupe needs are taken'
    : 'Loupe cannot start';
  $('explain-ports').hidden = ports.length === 0;
  $('other-ports').hidden = ports.length === 0;
  $('message').textContent = message;
  for (const b of document.querySelectorAll('button')) b.disabled = false;
  show('failed');
}

async function poll() {
  try {
    render(await invoke('startup_state'));
  } catch (e) {
    $('message').textContent = `Cannot reach the shell: ${e}`;
  }
  setTimeout(poll, 250);
}

function act(button, cmd) {
  $(button).addEventListener('click', async () => {
    for (const b of document.querySelectorAll('button')) b.disabled = true;
    lastShown = '';
    show('starting');
    try {
      await invoke(cmd);
    } catch (e) {
      $('message').textContent = String(e);
      show('failed');
    }
  });
}

act('retry', 'retry');
act('other-ports', 'use_other_ports');
act('restart', 'retry');
$('quit').addEventListener('click', () => invoke('quit'));
poll();
