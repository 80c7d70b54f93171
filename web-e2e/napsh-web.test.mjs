// `napsh web` in headless Debian Chromium: the real napsh, the real emulator and real sshd
// devices. Started by host-helper/tests/e2e_web.rs after `napsh web`, with:
//   NAPSH_WEB_URL         http://127.0.0.1:PORT (napsh web's server)
//   NAPSH_WEB_SESSION     the session napsh web created
//   NAPSH_WEB_TOKEN_FILE  the 0600 file napsh web wrote the login token to
//   NAPSH_WEB_PICKER_KEY  the picker's key, Zellij notation ("Alt s")
//   NAPSH_WEB_DEVICES     how many devices the fleet has
//   NAPSH_WEB_DEVICE      an online device to connect to; NAPSH_WEB_OFFLINE an offline one
//   NAPSH_WEB_ARTIFACTS   where picker.png, session.png, guide.png (failure.png) go
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { browserHarness, env } from './lib.mjs';

const URL = env('NAPSH_WEB_URL');
const SESSION = env('NAPSH_WEB_SESSION');
const TOKEN = fs.readFileSync(env('NAPSH_WEB_TOKEN_FILE'), 'utf8').trim();
const PICKER_KEY = env('NAPSH_WEB_PICKER_KEY', 'Alt s');
const DEVICES = Number(env('NAPSH_WEB_DEVICES'));
const DEVICE = env('NAPSH_WEB_DEVICE');
const OFFLINE = env('NAPSH_WEB_OFFLINE');

const h = browserHarness({
  artifacts: env('NAPSH_WEB_ARTIFACTS'),
  stepMs: Number(process.env.NAPSH_WEB_E2E_TIMEOUT_MS ?? 30000),
});

/** Zellij's "Alt s" as Playwright's "Alt+s". */
const playwrightKey = (zellijKey) => zellijKey.trim().split(/\s+/).join('+');
/** Login-shell prompts on screen (`user@host:dir#` / `$`). */
const prompts = (screen) => (screen.match(/[\w.-]+@[\w.-]+:[^\s│]*[#$]/g) ?? []).length;

const timed = async (what, fn) => {
  const t0 = Date.now();
  const result = await fn();
  console.log(`  ${what} in ${Date.now() - t0} ms`);
  return result;
};

h.step('the login token napsh web wrote logs the browser in', async () => {
  await timed('login', () => h.login(URL, SESSION, TOKEN));
});

h.step(`the session shows the picker's key (${PICKER_KEY})`, async () => {
  const size = await timed('attached', () => h.attached(SESSION));
  await h.waitFor(`${PICKER_KEY}  opens the device picker`);
  console.log(`  terminal ${size}`);
});

h.step('the picker key asks for the plugin\'s permissions once; y shows the fleet', async () => {
  await h.page.locator('#terminal').click(); // focus xterm's hidden textarea
  await h.page.keyboard.press(playwrightKey(PICKER_KEY));
  await timed('permission prompt', () => h.waitFor('Allow? (y/n)'));
  await h.page.keyboard.press('y');
  await timed('picker', () => h.waitFor(`napsh — ${DEVICES} devices`));
  await h.waitFor(`● ${DEVICE}`);
  await h.waitFor(`○ ${OFFLINE}`);
  console.log(`  screenshot ${await h.screenshot('picker.png')}`);
});

h.step(`Enter on ${DEVICE} opens its SSH pane`, async () => {
  await h.page.keyboard.type(DEVICE);
  await h.waitFor('1 shown');
  await h.page.keyboard.press('Enter');
  // The picker hides itself; the new pane (focused) carries the device's name in its frame
  // and, once SSH is up, the device's shell prompt (`user@host:dir#`; the welcome pane's
  // shell is a plain sh, whose `#` does not count).
  await timed('device shell', () => h.eventually(`the picker gone and a shell in a pane titled ${DEVICE}`, async () => {
    const s = await h.screenText();
    return !s.includes('napsh — ') && s.includes(DEVICE) && prompts(s) >= 1 ? s : null;
  }));
});

h.step('a command typed in the browser runs on the device and its output comes back', async () => {
  const n = 1000 + Math.floor(Math.random() * 9000);
  // `$((n+1))` keeps the expected text out of the echoed command line.
  await h.page.keyboard.type(`echo napsh-web-$((${n}+1)); hostname`);
  await h.page.keyboard.press('Enter');
  const host = os.hostname();
  const screen = await timed('round trip', () => h.eventually(`napsh-web-${n + 1} then ${host}`, async () => {
    const lines = (await h.screenText()).split('\n');
    const at = lines.findIndex((l) => new RegExp(`(^|[│\\s])napsh-web-${n + 1}\\s*(│|$)`).test(l));
    return at >= 0 && lines[at + 1]?.includes(host) ? lines.join('\n') : null;
  }));
  assert.match(screen, new RegExp(`echo napsh-web-\\$\\(\\(${n}\\+1\\)\\); hostname`), 'the typed command is echoed');
  console.log(`  screenshot ${await h.screenshot('session.png')}`);
});

h.step(`the picker again: ${OFFLINE} (offline) shows the guide`, async () => {
  await h.page.keyboard.press(playwrightKey(PICKER_KEY));
  await h.waitFor(`napsh — ${DEVICES} devices`);
  for (let i = 0; i < DEVICE.length + 4; i++) await h.page.keyboard.press('Backspace');
  await h.page.keyboard.type(OFFLINE);
  await h.waitFor('1 shown');
  await h.page.keyboard.press('Enter');
  const screen = await timed('guide', () => h.waitFor(`Cannot connect to ${OFFLINE}`));
  assert.match(screen, /offline/);
  assert.match(screen, /On-demand remote access/);
  console.log(`  screenshot ${await h.screenshot('guide.png')}`);
});
