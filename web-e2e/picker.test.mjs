// The napsh picker through Zellij's web client with a fake helper, driven in headless Debian
// Chromium. Started by run.sh, which provides the server, the session and a login token:
//   NAPSH_WEB_URL, NAPSH_WEB_TOKEN, NAPSH_WEB_SESSION, NAPSH_WEB_MODE, NAPSH_WEB_SCREENSHOT, NAPSH_SIM
// (napsh-web.test.mjs is the same journey with the real napsh, started by `napsh web`.)
import assert from 'node:assert/strict';
import path from 'node:path';
import { browserHarness, env } from './lib.mjs';

const URL = env('NAPSH_WEB_URL');
const TOKEN = env('NAPSH_WEB_TOKEN');
const SESSION = env('NAPSH_WEB_SESSION');
const MODE = env('NAPSH_WEB_MODE', 'browser');
const SIM = env('NAPSH_SIM', '8981100000000000001');
const SCREENSHOT = env('NAPSH_WEB_SCREENSHOT', 'artifacts/picker.png');
const DEVICE = 'kiosk-osaka-01';

const h = browserHarness({
  artifacts: path.dirname(SCREENSHOT),
  stepMs: Number(process.env.NAPSH_WEB_E2E_TIMEOUT_MS ?? 20000),
});

h.step('the page asks for a token and accepts it', async () => {
  const t0 = Date.now();
  await h.login(URL, SESSION, TOKEN);
  console.log(`  login in ${Date.now() - t0} ms`);
});

h.step(`the browser is attached to session ${SESSION}`, async () => {
  const t0 = Date.now();
  const size = await h.attached(SESSION);
  console.log(`  attached in ${Date.now() - t0} ms (mode ${MODE}, terminal ${size})`);
});

h.step('Alt y opens the picker with the fake helper\'s device', async () => {
  const t0 = Date.now();
  await h.page.locator('#terminal').click(); // focus xterm's hidden textarea
  await h.page.keyboard.press('Alt+y');
  await h.waitFor('napsh — 1 devices');
  await h.waitFor(/● kiosk-osaka-/);
  await h.page.screenshot({ path: SCREENSHOT });
  console.log(`  picker shown in ${Date.now() - t0} ms; screenshot ${SCREENSHOT}`);
});

h.step('Enter connects: a pane named after the device runs `<helper> ssh SIM`', async () => {
  const t0 = Date.now();
  await h.page.keyboard.press('Enter');
  await h.waitFor(`fake napsh ssh: connected to ${SIM}`);
  // The picker hides itself once the pane is open; the device name is then only in the
  // new pane's frame title.
  await h.eventually(`the picker gone and a pane titled ${DEVICE}`, async () => {
    const s = await h.screenText();
    return !s.includes('napsh — ') && s.split('\n').some((l) => l.includes(DEVICE) && !l.includes('connected to'));
  });
  console.log(`  device pane in ${Date.now() - t0} ms`);
});

h.step('typing in the device pane runs a command and its output is read back', async () => {
  const t0 = Date.now();
  await h.waitFor('device$');
  // Text goes to xterm's hidden textarea as key events; the expression keeps "hi-42" itself
  // out of the echoed command line.
  await h.page.keyboard.type('echo hi-$((40+2))');
  await h.page.keyboard.press('Enter');
  const screen = await h.eventually('"hi-42" printed by the shell', async () => {
    const s = await h.screenText();
    return /(^|[│\s])hi-42\s/m.test(s) ? s : null;
  });
  assert.match(screen, /echo hi-\$\(\(40\+2\)\)/, 'the typed command is echoed');
  await h.screenshot('shell.png');
  console.log(`  round trip in ${Date.now() - t0} ms`);
});
