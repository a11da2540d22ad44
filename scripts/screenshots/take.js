#!/usr/bin/env node
'use strict';

// `npm run screenshots`: the pictures README.md shows, taken from real n8n 2.41.1 with this
// working tree loaded, so they stay current with one command. It takes exactly the pictures the
// README links (docs/<name>.png) and refuses to run when the two lists differ.
//
// Starts the same stack as `npm run dev` (scripts/dev/stack.js: simulator, n8n, owner,
// credential "Vipps simulator", examples) on a throwaway user folder, drives Debian's Chromium
// headless with playwright-core, signs in through the login form and captures:
//
//   docs/node-panel.png             the Vipps Check-in node panel: notice, Phone Number, Is Member
//   docs/credential-simulator.png   the "Vipps simulator" credential, connection tested
//   docs/bulk-run.png               the scheduled bulk example after a run, logs panel open
//   docs/bulk-node-output.png       the Vipps Check-in output after that run: check-in ids and error items
//
// Each picture is checked before it is written (the right panel is open, the expected texts
// are on screen, no toast or dialog in the way) and must stay under 400 KB.
// Options: --only <name>[,<name>] takes a subset; --out <dir> writes elsewhere than docs/.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const stack = require('../dev/stack');

const CHROMIUM = '/usr/bin/chromium';
const VIEWPORT = { width: 1440, height: 900 };
const MAX_BYTES = 400 * 1024;
const SIMULATOR_PORT = 8080; // shown in the credential picture; any free port when taken

const { values: flags } = parseArgs({
	options: {
		only: { type: 'string' },
		out: { type: 'string' },
	},
});
const OUT = path.resolve(stack.REPO, flags.out ?? 'docs');
const ONLY = flags.only ? new Set(flags.only.split(',').map((name) => name.trim().replace(/\.png$/, ''))) : null;

function say(message) {
	process.stdout.write(`${message}\n`);
}

/** The pictures README.md links from docs/ must be exactly the ones this script takes. */
function checkReadme() {
	const readme = fs.readFileSync(path.join(stack.REPO, 'README.md'), 'utf8');
	const linked = [...new Set([...readme.matchAll(/\(docs\/([\w-]+)\.png\)/g)].map((match) => match[1]))].sort();
	const taken = Object.keys(SHOTS).sort();
	if (linked.join() !== taken.join()) {
		throw new Error(`README.md shows docs/{${linked.join(',')}}.png, this script takes docs/{${taken.join(',')}}.png: make them agree`);
	}
}

function checkChromium() {
	if (fs.existsSync(CHROMIUM)) return;
	console.error(`${CHROMIUM} is missing. Install Debian's Chromium first (as root):\n\n  apt-get install -y chromium\n`);
	process.exit(2);
}

/** Closes toasts (e.g. "Workflow executed successfully") that would cover a picture. */
async function closeToasts(page) {
	for (const button of await page.locator('.el-notification__closeBtn').all()) {
		await button.click().catch(() => {});
	}
	await page.waitForSelector('.el-notification', { state: 'detached', timeout: 5000 }).catch(() => {});
}

/** Fails when an unexpected dialog (onboarding, what's new, survey) is open. */
async function assertNoStrayDialog(page, allowed = []) {
	const open = await page.$$eval('.el-overlay, [role="dialog"]', (elements) =>
		elements
			.filter((element) => {
				const style = getComputedStyle(element);
				const box = element.getBoundingClientRect();
				return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0;
			})
			.map((element) => element.getAttribute('data-test-id') ?? element.className),
	);
	const stray = open.filter((name) => !allowed.some((ok) => String(name).includes(ok)));
	if (stray.length) throw new Error(`a dialog is in the way: ${stray.join(', ')}`);
}

async function expectTexts(scope, texts) {
	for (const text of texts) {
		await scope.getByText(text, { exact: false }).filter({ visible: true }).first().waitFor({ state: 'visible', timeout: 15_000 });
	}
}

async function signIn(page, url, owner) {
	await page.goto(`${url}/signin`);
	await page.fill('#emailOrLdapLoginId', owner.email);
	await page.fill('#password', owner.password);
	await page.click('[data-test-id="form-submit-button"]');
	await page.waitForURL((address) => !address.pathname.startsWith('/signin'), { timeout: 30_000 });
	await page.waitForSelector('[data-test-id="project-tabs"], [data-test-id="resources-list"]', { timeout: 30_000 });
}

/** Opens a workflow and waits for the canvas to be drawn and fitted. */
async function openWorkflow(page, url, workflowId) {
	await page.goto(`${url}/workflow/${workflowId}`);
	await page.waitForSelector('[data-test-id="canvas-node"]', { timeout: 30_000 });
	await page.waitForTimeout(1500); // fit-view animation
}

function canvasNode(page, name) {
	return page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
}

async function openNodePanel(page, name) {
	await canvasNode(page, name).dblclick();
	await page.waitForSelector('[data-test-id="ndv"]', { timeout: 15_000 });
	await page.waitForTimeout(800);
}

async function runWorkflowFromEditor(page, lastNode) {
	await page.click('[data-test-id="execute-workflow-button"]');
	await canvasNode(page, lastNode)
		.locator('[data-test-id="canvas-node-status-success"]')
		.waitFor({ state: 'visible', timeout: 60_000 });
}

async function save(page, name, taken) {
	const file = path.join(OUT, `${name}.png`);
	await page.screenshot({ path: file });
	const bytes = fs.statSync(file).size;
	if (bytes > MAX_BYTES) throw new Error(`${file} is ${Math.round(bytes / 1024)} KB (limit ${MAX_BYTES / 1024} KB)`);
	const shown = file.startsWith(`${stack.REPO}${path.sep}`) ? path.relative(stack.REPO, file) : file;
	taken.push({ file: shown, bytes });
	say(`  ${shown} (${Math.round(bytes / 1024)} KB)`);
}

const SHOTS = {
	/** The node panel: the notice about the test environment, Phone Number and Is Member. */
	'node-panel': async ({ page, url, workflows }) => {
		await openWorkflow(page, url, workflows['form-check-in.json'].id);
		await openNodePanel(page, 'Vipps Check-in');
		const panel = page.locator('[data-test-id="ndv"]');
		await expectTexts(panel, ["Vipps's test environment (MT) answers every check-in with 500", 'Phone Number', 'Is Member', '$json.phone']);
	},

	/** The simulator credential after n8n's connection test (our credential test). */
	'credential-simulator': async ({ page, url }) => {
		await page.goto(`${url}/home/credentials`);
		await page.waitForSelector('[data-test-id="resources-list"]', { timeout: 30_000 });
		await page.getByText(stack.CREDENTIAL_NAME, { exact: true }).first().click();
		const modal = page.locator('[data-test-id="editCredential-modal"]');
		await modal.waitFor({ state: 'visible', timeout: 15_000 });
		await expectTexts(modal, ['Connection tested successfully', 'Custom Base URL', 'Client ID']);
		await page.waitForTimeout(500);
	},

	/** The scheduled bulk example after a run from the editor, logs panel on the summary. */
	'bulk-run': async ({ page, url, workflows }) => {
		await openWorkflow(page, url, workflows['scheduled-bulk-check-in.json'].id);
		await runWorkflowFromEditor(page, 'Sent vs failed');
		await closeToasts(page);
		await page.click('[data-test-id="logs-overview-header"]');
		const logs = page.locator('[data-test-id="logs-panel"]');
		// The logs panel usually opens on the last node; pick it when it did not.
		const summary = logs.getByText('count_checkInId').filter({ visible: true }).first();
		if (!(await summary.waitFor({ timeout: 3000 }).then(() => true, () => false))) {
			await logs.getByText('Sent vs failed', { exact: true }).filter({ visible: true }).first().click();
		}
		await page.waitForTimeout(800);
		await expectTexts(logs, ['count_checkInId', 'count_error', 'appended_error']);
		await expectTexts(page, ['7 items']);
		await closeToasts(page);
		await assertNoStrayDialog(page);
	},

	/** The node's output after that run: check-in ids, then the refused rows as error items. */
	'bulk-node-output': async ({ page, url, workflows }) => {
		await openWorkflow(page, url, workflows['scheduled-bulk-check-in.json'].id);
		await runWorkflowFromEditor(page, 'Sent vs failed');
		await closeToasts(page);
		await openNodePanel(page, 'Vipps Check-in');
		const output = page.locator('[data-test-id="output-panel"]');
		await output.locator('[data-test-id="radio-button-json"]').click();
		await page.waitForTimeout(500);
		// Scroll to the end: the last check-in id and all three error items in view.
		const box = await output.locator('[data-test-id="ndv-data-container"]').boundingBox();
		await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
		await page.mouse.wheel(0, 10_000);
		await page.waitForTimeout(800);
		await expectTexts(output, ['7 items', '"checkInId"', '"error"', 'Nothing was sent for this item']);
		await closeToasts(page);
	},
};

async function main() {
	checkReadme();
	checkChromium();
	if (!fs.existsSync(path.join(stack.REPO, 'dist', 'simulator', 'VippsSimulator.js'))) {
		throw new Error('dist/ is missing: run `npm run screenshots` (it builds first) or `npm run build`');
	}
	const { chromium } = require('playwright-core');
	const started = Date.now();
	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'vipps-screenshots-'));
	const simulator = await stack.startSimulator({ port: SIMULATOR_PORT });
	let n8n;
	let browser;
	const taken = [];
	try {
		say(`[screenshots] starting n8n (simulator on ${simulator.baseUrl}) …`);
		n8n = await stack.startN8nStack({ userFolder, port: await stack.portOr(5699), simulator });
		say(`[screenshots] n8n ready in ${n8n.timings.n8nReady} at ${n8n.server.url}`);
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			args: [
				'--no-sandbox',
				'--disable-gpu',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync',
				'--no-first-run',
			],
		});
		const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC' });
		const page = await context.newPage();
		await signIn(page, n8n.server.url, n8n.owner);
		await closeToasts(page);
		await assertNoStrayDialog(page);
		fs.mkdirSync(OUT, { recursive: true });
		for (const [name, shoot] of Object.entries(SHOTS)) {
			if (ONLY && !ONLY.has(name)) continue;
			try {
				await shoot({ page, url: n8n.server.url, workflows: n8n.workflows });
				await save(page, name, taken);
			} catch (error) {
				const failed = path.join(os.tmpdir(), `screenshot-failed-${name}.png`);
				await page.screenshot({ path: failed }).catch(() => {});
				error.message = `${name}: ${error.message}\n(what the browser showed: ${failed})`;
				throw error;
			}
		}
	} finally {
		await browser?.close();
		await n8n?.server.stop();
		await simulator.close();
		fs.rmSync(userFolder, { recursive: true, force: true });
	}
	say(`[screenshots] ${taken.length} pictures in ${stack.seconds(started)}`);
}

main().catch((error) => {
	console.error(`[screenshots] ${error.stack ?? error}`);
	process.exit(1);
});
