// GET /console in a real browser (Debian's chromium through playwright-core): sign in with the
// admin token, find a pilot registered and refreshed here, follow it to its page, revoke it
// with a confirmation, and see its next refresh refused; no console errors, the token in no
// URL, cookie or log line; axe-core finds nothing on any page it opens. On a 375 px phone the
// pages reflow (no page-wide sideways scroll), tables scroll in their own box with the entry
// and status columns first, and the chart's text is legible. Over plain HTTP: POSTs without
// the session's CSRF token or from another origin are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { startRefreshService, type RunningService } from '../../../refresh-service/index.ts';
import { ensureAdminToken } from '../../../refresh-service/state-dir.ts';
import { createLogger } from '../../../shared/log.ts';
import { skipWithout } from '../../helpers/system-tools.ts';
import { makeSandbox, type Sandbox, startSandboxService, stopSandboxService } from '../fixture.ts';
import { axeViolations, layout } from './console-page-checks.ts';
import { refreshAgain, report, startPilot, validationBody, type DrivenPilot } from '../operator/pilot-driver.ts';

const CHROMIUM = '/usr/bin/chromium';
const REPO = join(import.meta.dirname, '..', '..', '..');
let sb: Sandbox;
let svc: RunningService;
let admin: string;
let web: DrivenPilot;
const logLines: string[] = [];

beforeAll(async () => {
  const log = createLogger({ format: 'json', level: 'debug', sink: { write: (s: string) => (logLines.push(s), true) } });
  ({ sb, svc } = await startSandboxService(log));
  admin = await ensureAdminToken(sb.stateDir);
  for (const n of [1, 2, 3]) {
    const p = await startPilot(sb, svc.url, `ce-hole-${n}`, 'CE_HOLE');
    await report(svc.url, p, validationBody('wn-bad.example.org', { check: 'cvmfs', failure: 'VO_Config' }));
  }
  web = await startPilot(sb, svc.url, 'web-1', 'CE_WEB');
  await report(svc.url, web, validationBody('wn1.example.org'));
  expect((await refreshAgain(svc.url, web)).status).toBe(200);
  await report(svc.url, web, { state: 'running' });
});
afterAll(() => stopSandboxService(svc, sb));

async function signIn(): Promise<string> {
  const r = await fetch(`${svc.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { origin: svc.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: admin }) });
  expect(r.status).toBe(303);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

const post = (path: string, cookie: string, form: Record<string, string>, origin = svc.url) =>
  fetch(`${svc.url}${path}`, { method: 'POST', redirect: 'manual', headers: { origin, cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });

describe('console over HTTP', () => {
  it('shows the sign-in form without a session and refuses a wrong admin token', async () => {
    expect(await (await fetch(`${svc.url}/console`)).text()).toContain('id="token"');
    expect((await fetch(`${svc.url}/console/pilots`, { redirect: 'manual' })).status).toBe(303);
    const r = await post('/console/login', '', { token: 'wrong' });
    expect(r.status).toBe(401);
    expect(r.headers.get('set-cookie')).toBeNull();
  });

  it('sets an HttpOnly, SameSite=Strict session cookie scoped to /console, not Secure over plain HTTP', async () => {
    const r = await fetch(`${svc.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { origin: svc.url, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(admin)}` });
    expect(r.headers.get('set-cookie')).toMatch(/^glidein_console=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('lists entries with their black-hole flags and the pilots of an entry filtered by status', async () => {
    const cookie = await signIn();
    const entries = await (await fetch(`${svc.url}/console/entries`, { headers: { cookie } })).text();
    expect(entries).toMatch(/<a href="\/console\/pilots\?entry=CE_HOLE">CE_HOLE<\/a><\/td>.*<span class="bad">BLACK HOLE: entry, wn-bad\.example\.org<\/span>/);
    expect(entries).toMatch(/>CE_WEB<\/a><\/td><td>no<\/td>/);
    const hole = await (await fetch(`${svc.url}/console/pilots?entry=CE_HOLE&status=live`, { headers: { cookie } })).text();
    expect(hole.match(/href="\/console\/pilot\/ce-hole-\d"/g)).toHaveLength(3);
    expect(hole).not.toContain('web-1');
  });

  it('escapes what pilots report, and answers 404 for a malformed or unknown pilot', async () => {
    const p = await startPilot(sb, svc.url, 'xss-1', 'CE_XSS');
    const body = validationBody('wn3.example.org', { check: 'disk', failure: 'WN_Resource' }) as { validation: { json: { checks: { detail: string }[] } } };
    body.validation.json.checks[1]!.detail = '<script>alert(1)</script>';
    expect((await report(svc.url, p, body as never)).status).toBe(200);
    const cookie = await signIn();
    const page = await (await fetch(`${svc.url}/console/pilot/xss-1`, { headers: { cookie } })).text();
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect((await fetch(`${svc.url}/console/pilot/%E0%A4%A`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${svc.url}/console/pilot/nobody`, { headers: { cookie } })).status).toBe(404);
  });

  it('refuses a revoke without the session CSRF token, from another origin, or without a session', async () => {
    const cookie = await signIn();
    const page = await (await fetch(`${svc.url}/console/pilot/ce-hole-1?confirm=revoke`, { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    expect((await post('/console/revoke', cookie, { glidein_id: 'ce-hole-1', confirm: 'yes' })).status).toBe(403);
    expect((await post('/console/revoke', cookie, { csrf: 'x'.repeat(43), glidein_id: 'ce-hole-1', confirm: 'yes' })).status).toBe(403);
    expect((await post('/console/revoke', cookie, { csrf, glidein_id: 'ce-hole-1', confirm: 'yes' }, 'http://evil.example')).status).toBe(403);
    expect((await post('/console/revoke', '', { csrf, glidein_id: 'ce-hole-1', confirm: 'yes' })).status).toBe(403);
    const listed = (await (await fetch(`${svc.url}/v1/pilots?q=ce-hole-1`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { pilots: { status: string }[] };
    expect(listed.pilots[0]!.status).toBe('live');
  });
});

/** A sign-in POST whose Host and Origin both name another site (DNS rebinding); its status. */
function reboundSignIn(host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${svc.url}/console/login`, { method: 'POST', headers: { host, origin: `http://${host}`, 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(new URLSearchParams({ token: admin }).toString());
  });
}

describe('console origin check', () => {
  it('compares Origin with publicUrl, not with the Host header (DNS rebinding is refused)', async () => {
    const port = new URL(svc.url).port;
    expect(await reboundSignIn(`rebind.example:${port}`)).toBe(403);
    expect(logLines.some((l) => l.includes('console POST from another origin') && l.includes('rebind.example'))).toBe(true);
    expect((await post('/console/login', '', { token: admin })).status).toBe(303);
  });
});

describe('console over HTTPS', () => {
  it('marks the session cookie Secure', async () => {
    const local = await makeSandbox();
    const cert = join(local.dir, 'cert.pem');
    const key = join(local.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const s = await startRefreshService({ stateDir: local.stateDir, config: local.config(), listen: '127.0.0.1:0', tls: { cert, key } });
    try {
      const token = await ensureAdminToken(local.stateDir);
      const ca = await readFile(cert, 'utf8');
      const setCookie = await new Promise<string[] | undefined>((resolve, reject) => {
        const req = request(`${s.url}/console/login`, { method: 'POST', ca, headers: { origin: s.url, 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
          res.resume();
          resolve(res.headers['set-cookie']);
        });
        req.on('error', reject);
        req.end(new URLSearchParams({ token }).toString());
      });
      expect(setCookie?.[0]).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      await s.close();
      await local.cleanup();
    }
  });
});

const noBrowser = skipWithout('Chromium', existsSync(CHROMIUM), `${CHROMIUM} not found (apt-get install chromium)`);

const launchChromium = async () =>
  (await import('playwright-core')).chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });

describe.skipIf(noBrowser)('console in Chromium', () => {
  it('fits a 375 px phone: no page-wide sideways scroll, tables scroll in their own box with entry and status first, a legible chart, no axe violation', async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
      const page = await context.newPage();
      const check = async (name: string) => {
        const l = await layout(page);
        expect(l.viewport, name).toBe(375);
        expect(l.pageWidth, `${name}: document.documentElement.scrollWidth`).toBeLessThanOrEqual(375);
        expect(l.tables.filter((t) => t.wide && !t.inScrollBox).map((t) => t.caption), `${name}: tables wider than the page outside a scroll box`).toEqual([]);
        expect(await axeViolations(page), `${name}: axe-core`).toEqual([]);
        await page.screenshot({ path: join(sb.dir, `console-phone-${name}.png`), fullPage: true });
        return l;
      };
      await page.goto(`${svc.url}/console`);
      await check('sign-in');
      await page.getByLabel(/Admin token/).fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const overview = await check('overview');
      expect(overview.tables.find((t) => t.caption === 'Pilots by entry and status')?.headers.slice(0, 2)).toEqual(['Entry', 'Black hole']);
      // The black-hole flag is on screen without scrolling anything.
      const flag = await page.locator('text=BLACK HOLE').first().boundingBox();
      expect(flag!.x).toBeLessThan(375 - 20);
      expect(overview.chartMinFontPx).toBeGreaterThanOrEqual(12);
      await page.goto(`${svc.url}/console/pilots`);
      const pilots = await check('pilots');
      expect(pilots.tables.find((t) => t.caption.startsWith('Pilots ('))?.headers.slice(0, 3)).toEqual(['Glidein', 'Entry', 'Status']);
      await page.goto(`${svc.url}/console/entries`);
      const entries = await check('entries');
      expect(entries.tables[0]?.headers.slice(0, 2)).toEqual(['Entry', 'Black hole']);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('signs in, follows a refreshed pilot to its page, revokes it after confirming, and its next refresh is refused', async () => {
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${svc.url}/console`);
      await page.getByLabel(/Admin token/).fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const cookies = await context.cookies();
      expect(cookies).toMatchObject([{ name: 'glidein_console', httpOnly: true, sameSite: 'Strict', secure: false, path: '/console' }]);
      expect(await page.locator('text=BLACK HOLE').count()).toBeGreaterThan(0);
      // Evaluated in the page (DOM types are not in this project's lib).
      const metrics = (await page.evaluate(`(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
        return { bytes: nav.transferSize, body: nav.decodedBodySize, fcpMs: fcp ? fcp.startTime : -1, resources: performance.getEntriesByType('resource').length };
      })()`)) as { bytes: number; body: number; fcpMs: number; resources: number };
      console.log(`console overview: ${metrics.body} bytes of HTML (${metrics.bytes} transferred), ${metrics.resources} other resources, first contentful paint ${metrics.fcpMs.toFixed(0)} ms`);
      expect(metrics.resources).toBe(0);
      expect(await axeViolations(page)).toEqual([]);
      await page.screenshot({ path: join(sb.dir, 'console-overview.png'), fullPage: true });
      // The README's screenshot is refreshed only on request, so a test run never changes tracked files.
      if (process.env.GLIDEIN_UPDATE_SCREENSHOT === '1') {
        await mkdir(join(REPO, 'docs'), { recursive: true });
        await copyFile(join(sb.dir, 'console-overview.png'), join(REPO, 'docs', 'console.png'));
      }

      await page.getByRole('navigation').getByRole('link', { name: 'Pilots' }).click();
      await page.getByLabel(/Search/).fill('web');
      await page.getByRole('button', { name: 'Filter' }).click();
      expect(page.url()).toContain('q=web');
      await page.getByRole('link', { name: 'web-1' }).click();
      await page.getByRole('heading', { name: 'Pilot web-1' }).waitFor();
      await expect(page.getByRole('cell', { name: 'bound to its DPoP key (first refresh)' }).count()).resolves.toBe(1);
      await expect(page.getByRole('table', { name: 'Validation report: OK' }).count()).resolves.toBe(1);
      // Registered, then refreshed twice: the binding refresh and one more.
      await expect(page.getByRole('cell', { name: 'refresh answered', exact: true }).count()).resolves.toBe(2);
      await page.screenshot({ path: join(sb.dir, 'console-pilot.png'), fullPage: true });
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole('button', { name: 'Revoke…' }).click();
      await page.getByRole('heading', { name: 'Revoke web-1?' }).waitFor();
      await page.getByRole('button', { name: 'Yes, revoke web-1' }).click();
      await page.getByRole('cell', { name: 'revoked: revoked from the console' }).waitFor();
      expect(page.url()).toBe(`${svc.url}/console/pilot/web-1`);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
    expect(await refreshAgain(svc.url, web)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
    expect(logLines.join('')).not.toContain(admin);
    expect(logLines.some((l) => l.includes('"via":"console"') && l.includes('web-1'))).toBe(true);
  }, 120_000);
});
