import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

/**
 * The web console in Debian's Chromium (headless, fresh profile, never a downloaded browser) against the
 * real gateway and simulator.
 */
const CHROMIUM = '/usr/bin/chromium';
/**
 * Screenshots of the main views: into docs/images with UPDATE_SCREENSHOTS=1 (to refresh the README's
 * pictures), else into a temporary folder so a test run leaves the work tree as it was.
 */
const IMAGES =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? resolve(__dirname, '../docs/images')
    : mkdtempSync(join(tmpdir(), 'dim-screenshots-'));

/** Chromium with a fresh profile; the profile is deleted when the context closes. */
async function launch(): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'dim-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1280, height: 860 },
  });
  // Best effort: Chromium may still be writing into the profile as the context closes.
  context.on('close', () => {
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      /* left in the temporary folder */
    }
  });
  return context;
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** A static file server over the repository (for examples/vanilla, which has no build step). */
async function serveRepository(): Promise<{ url: string; server: Server }> {
  const root = resolve(__dirname, '..');
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.mjs': 'text/javascript',
    '.js': 'text/javascript',
  };
  const server = createHttpServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(root, `.${pathname}${pathname.endsWith('/') ? 'index.html' : ''}`);
    try {
      if (!file.startsWith(root)) throw new Error('outside');
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

const state = (page: Page) => page.getByTestId('connection-state');
const messages = (page: Page, role: 'user' | 'assistant') =>
  page.locator(`[data-testid=message][data-role=${role}]`);
const messageTexts = (page: Page, role: 'user' | 'assistant') =>
  messages(page, role).locator('p').allInnerTexts();

describe('console in a browser, dev mode', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(IMAGES, { recursive: true });
    sim = await startPodiumSim();
    gw = await startGateway({ NODE_ENV: 'development', PODIUM_URL: sim.url, PODIUM_API_KEY: SIM_KEY });
    context = await launch();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await gw?.stop();
    await sim?.stop();
  });

  it('creates a session, runs a coding-agent turn, answers its question and opens the changed file', async () => {
    await sim.config({ tokenDelayMs: 5 });
    await page.goto(`${gw.url}/console/`);
    await state(page).filter({ hasText: 'open' }).waitFor();
    await page.getByLabel('Agent').selectOption('coding-agent');
    await page.getByLabel('Name', { exact: true }).fill('Greeting');
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.getByRole('heading', { name: /Greeting/ }).waitFor();

    await page.getByLabel('Message').fill('Write hello, ask me a question first');
    await page.keyboard.press('Control+Enter');
    const question = page.getByRole('group', { name: 'Question' });
    await question.getByRole('button', { name: 'ts' }).click();
    await question.getByRole('button', { name: 'Answer' }).click();
    await messages(page, 'assistant').filter({ hasText: 'which printed the greeting' }).waitFor();
    await page.getByText('Answered: ts').waitFor();
    await page.getByTestId('terminal').filter({ hasText: 'Language: ts' }).waitFor();
    expect(await messages(page, 'user').count()).toBe(1);
    await page.getByText('Thought').first().click(); // thinking is collapsible
    await page.screenshot({ path: join(IMAGES, 'console-session.png'), fullPage: true });

    await page.getByRole('button', { name: 'Open hello.txt' }).click();
    await page.getByTestId('file-content').filter({ hasText: 'Language: ts' }).waitFor();
    await page.getByLabel('Iteration').waitFor();
    await page.screenshot({ path: join(IMAGES, 'console-files.png') });

    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByTestId('credits').waitFor();
    await page.getByRole('region', { name: 'Members' }).waitFor();
    await page.screenshot({ path: join(IMAGES, 'console-account.png') });
  });

  it('offline mid-turn and back: the DOM holds every message once, with the server’s final text', async () => {
    const prompt = 'keep streaming while the network comes and goes '.repeat(6).trim();
    await sim.config({ tokenDelayMs: 40 });
    await page.goto(`${gw.url}/console/`);
    await state(page).filter({ hasText: 'open' }).waitFor();
    await page.getByLabel('Agent').selectOption('echo');
    await page.getByLabel('Name', { exact: true }).fill('Flaky network');
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.getByRole('heading', { name: /Flaky network/ }).waitFor();
    await page.getByLabel('Message').fill(prompt);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await messages(page, 'assistant')
      .filter({ hasText: /\S{8,}/ })
      .waitFor();

    await context.setOffline(true);
    await state(page).filter({ hasText: 'reconnecting' }).waitFor();
    await context.setOffline(false);
    await state(page).filter({ hasText: 'open' }).waitFor();

    await page
      .locator('[data-testid=message][data-role=assistant][aria-busy=false]')
      .waitFor({ timeout: 30_000 });
    expect(await messageTexts(page, 'user')).toEqual([prompt]);
    expect(await messageTexts(page, 'assistant')).toEqual([prompt]);
  });

  it('approves a permission; steers and stops a running turn', async () => {
    await sim.config({ tokenDelayMs: 5 });
    await page.goto(`${gw.url}/console/`);
    await state(page).filter({ hasText: 'open' }).waitFor();
    await page.getByLabel('Agent').selectOption('coding-agent');
    await page.getByLabel('Name', { exact: true }).fill('Permission');
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.getByRole('heading', { name: /Permission/ }).waitFor();
    await page.getByLabel('Message').fill('Write hello, then ask permission to run it');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page
      .getByRole('group', { name: 'Permission request' })
      .getByRole('button', { name: 'Approve' })
      .click();
    await page.getByText('Approved').waitFor();
    await messages(page, 'assistant').filter({ hasText: 'which printed the greeting' }).waitFor();

    await sim.config({ tokenDelayMs: 60 });
    await page.getByLabel('Agent').selectOption('echo');
    await page.getByLabel('Name', { exact: true }).fill('Steer and stop');
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.getByRole('heading', { name: /Steer and stop/ }).waitFor();
    await page.getByLabel('Message').fill('a long answer that we will interrupt '.repeat(10));
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByLabel('Steer the running turn').fill('shorter, please');
    await page.getByRole('button', { name: 'Steer', exact: true }).click();
    await messages(page, 'user').filter({ hasText: 'shorter, please' }).waitFor();
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor();
    await page.locator('[data-testid=message][data-role=assistant][aria-busy=false]').waitFor();
    expect(await page.getByRole('button', { name: 'Stop', exact: true }).count()).toBe(0);
  });

  it('keeps the session list live across tabs: create, rename and archive in one, seen in the other', async () => {
    const other = await context.newPage();
    await other.goto(`${gw.url}/console/`);
    await state(other).filter({ hasText: 'open' }).waitFor();
    await page.goto(`${gw.url}/console/`);
    await state(page).filter({ hasText: 'open' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Shared between tabs');
    await page.getByRole('button', { name: 'Create session' }).click();
    await other.getByRole('button', { name: /^Shared between tabs/ }).waitFor();
    page.once('dialog', (d) => void d.accept('Renamed in tab one'));
    await page.getByRole('button', { name: 'Rename Shared between tabs' }).click();
    await other.getByRole('button', { name: /^Renamed in tab one/ }).waitFor();
    await page.getByRole('button', { name: 'Archive Renamed in tab one' }).click();
    await other.getByRole('button', { name: 'Unarchive Renamed in tab one' }).waitFor();
    await other.close();
  });

  it('examples/vanilla streams a turn with the SDK’s ESM build, no build step', async () => {
    await sim.config({ tokenDelayMs: 5 });
    const { url, server } = await serveRepository();
    try {
      const example = await context.newPage();
      await example.goto(`${url}/examples/vanilla/`);
      await example.getByLabel('Gateway').fill(gw.url);
      await example.getByLabel('Prompt').fill('hello from a page without a build step');
      await example.getByRole('button', { name: 'Run turn' }).click();
      await example.locator('#outcome').filter({ hasText: 'complete' }).waitFor();
      expect(await example.locator('#out').innerText()).toBe('hello from a page without a build step');
      await example.close();
    } finally {
      server.close();
    }
  });

  it('is usable at 360 px', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    await page.goto(`${gw.url}/console/`);
    await page.getByRole('button', { name: /^Greeting/ }).click();
    await page.getByRole('heading', { name: /Greeting/ }).waitFor();
    const width = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(IMAGES, 'console-mobile.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});

describe('console in a browser, production mode', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;
  let context: BrowserContext;
  let port: number;

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    port = await freePort();
    gw = await startGateway({
      NODE_ENV: 'production',
      PORT: String(port),
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: 'diminuendo-api',
      ALLOWED_ORIGINS: `http://127.0.0.1:${port}`,
      CONSOLE_ENABLED: 'true',
    });
    context = await launch();
  });
  afterAll(async () => {
    await context?.close();
    await gw?.stop();
    await jwks?.stop();
  });

  it('signs in with a pasted JWT from an allowed origin', async () => {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/console/`);
    await page.getByLabel('Access token (JWT) or API key').fill(jwks.sign({ email: 'ada@example.com' }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await state(page).filter({ hasText: 'open' }).waitFor();
    await page.getByText('ada@example.com').waitFor();
    await page.screenshot({ path: join(IMAGES, 'console-signed-in.png') });
    await page.close();
  });

  it('is refused from a foreign origin, and a bad token is refused too', async () => {
    const foreign = await context.newPage();
    // Same server, another origin (host name): the WebSocket upgrade is refused.
    await foreign.goto(`http://localhost:${port}/console/`);
    await foreign.getByLabel('Access token (JWT) or API key').fill(jwks.sign());
    await foreign.getByRole('button', { name: 'Sign in' }).click();
    await foreign.getByRole('alert').filter({ hasText: 'REFUSED' }).waitFor();
    expect(await foreign.getByRole('button', { name: 'Create session' }).count()).toBe(0);
    await foreign.close();

    const bad = await context.newPage();
    await bad.goto(`http://127.0.0.1:${port}/console/`);
    await bad
      .getByLabel('Access token (JWT) or API key')
      .fill(jwks.sign({}, { issuer: 'https://evil.example/' }));
    await bad.getByRole('button', { name: 'Sign in' }).click();
    await bad.getByRole('alert').filter({ hasText: 'AUTH_FAILED' }).waitFor();
    await bad.close();
  });

  it('is not served in production unless CONSOLE_ENABLED is on', async () => {
    const off = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: 'diminuendo-api',
    });
    try {
      expect((await fetch(`${off.url}/console/`)).status).toBe(404);
      const on = await fetch(`http://127.0.0.1:${port}/console/`);
      expect(on.status).toBe(200);
      expect(on.headers.get('content-security-policy')).toContain("script-src 'self'");
    } finally {
      await off.stop();
    }
  });
});
