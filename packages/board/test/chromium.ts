import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@nightshift/testing';
import { type Browser, chromium, type Page } from 'playwright-core';

/** The system Chromium the browser tests drive (playwright-core downloads no browser). */
const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser tests can run here; when not, `file` says why on stderr (it is skipped). */
export function haveChromium(file: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(`${file} skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it).`);
  return false;
}

/** NIGHTSHIFT_SCREENSHOTS=1 refreshes the screenshots of docs/ as the tests pass by each page. */
export const shots = process.env.NIGHTSHIFT_SCREENSHOTS === '1';

/** Saves a full-width screenshot of `page` as docs/`name` (call it only when {@link shots}). */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  const docs = join(dirname(fileURLToPath(import.meta.url)), '../../../docs');
  mkdirSync(docs, { recursive: true });
  await page.screenshot({ path: join(docs, name), fullPage });
}

/** A headless Chromium with nothing of its own on the network, and one page as wide as a desktop's. */
export async function openBrowser(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  return { browser, page };
}

/**
 * Waits until the page's visible text contains every part (Bull Board renders after its API calls)
 * and returns that text; on a timeout the error shows what the page did show.
 */
export async function shows(page: Page, ...parts: string[]): Promise<string> {
  let last = '';
  await waitFor(
    async () => {
      // biome-ignore lint/performance/useDomNodeTextContent: what a person sees, not the UI config script's JSON
      last = await page.locator('body').innerText();
      return parts.every((p) => last.includes(p));
    },
    { what: `Bull Board to show ${parts.join(', ')}`, timeoutMs: 45_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- page text ---\n${last.slice(0, 3000)}`);
  });
  return last;
}
