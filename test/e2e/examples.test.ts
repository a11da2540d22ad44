/**
 * The example workflows inside real n8n 2.41: this package packed with `npm pack`, installed into a
 * fresh user folder the way n8n installs a community package, a credential imported with
 * `n8n import:credentials` pointing at the local Vipps simulator, each example imported with
 * `n8n import:workflow` and run by `n8n execute` — a new n8n process per run, as in production.
 *
 * `n8n execute` can only start at a Manual Trigger, so the examples that wait for a form, a webhook
 * or the clock run as a headless copy (see headlessCopy): their trigger becomes a Set node of the
 * same name emitting the item that trigger emits, started by a Manual Trigger. Nothing else changes.
 */
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import type { IDataObject } from 'n8n-workflow';

import { PATHS, type RecordedRequest } from '../../simulator/VippsSimulator';
import { BULK_CHECKED_IN, BULK_CUSTOMER_NAMES, expectBulkRefusals } from '../fixtures/bulkExample';
import { HUBSPOT_HEADERS, SCHEDULED_RUN, hubSpotContact, webhookCall } from '../fixtures/triggerItems';
import { simulatorCredential } from '../workflow/fixtures';
import { HUBSPOT_APP_SECRET, signedHubSpotCall } from '../examples/hubspot';
import { N8N_VERSION, kit, type ExecuteResult, type ImportedCredential, type RunningN8n } from './kit';
import {
	CHECK_IN_ID,
	E2E_TIMEOUT_MS,
	useSimulatorAndN8n,
	PACKAGE_NAME,
	PACKAGE_VERSION,
	expectVippsSystemHeaders,
	headlessCopy,
	installedN8nWorkflowVersion,
	itemsOf,
	jsonOf,
	loadExample,
	publishWorkflow,
	withCredentials,
	N8nUserFolder,
	itWithN8nLog,
	type WorkflowJson,
} from './support';

let n8nWorkflowVersion: string;

const { stack, itN8n } = useSimulatorAndN8n();

beforeAll(async () => {
	n8nWorkflowVersion = await installedN8nWorkflowVersion();
}, E2E_TIMEOUT_MS);

/** Imports the workflow with the user's credential picked, runs it headless, and returns the Vipps requests of that run only. */
async function run(workflow: WorkflowJson): Promise<{ result: ExecuteResult; requests: RecordedRequest[] }> {
	const id = await stack.n8n.importWorkflow(withCredentials(workflow, [stack.credential]));
	const before = stack.simulator.requests.length;
	// Resolves once the n8n process has exited: every request it made has been answered and logged.
	const result = await stack.n8n.execute(id);
	return { result, requests: stack.simulator.requests.slice(before) };
}

const calls = (requests: RecordedRequest[]) => requests.map((request) => `${request.status} ${request.path}`);

// ---------------------------------------------------------------------------------------------
// What each trigger emits, in the shapes n8n's own trigger nodes produce (more in test/fixtures/triggerItems.ts).

/** Form Trigger v2.6: one field per form field (the dropdown as the option picked), submittedAt, formMode. */
const FORM_SUBMISSION: IDataObject = {
	phone: '+47 912 34 567',
	loyaltyMember: 'Yes',
	submittedAt: '2026-03-02T09:00:00.000+01:00',
	formMode: 'production',
};

const SCANNED_QR_CODE = 'https://qr.vipps.no/p/5ZcG8qkwbG0xU1Sd';

const checkedIn = (phoneNumber: string, isMember: boolean) => ({
	checkInId: expect.stringMatching(CHECK_IN_ID),
	attempts: 1,
	possibleDuplicate: false,
	phoneNumber,
	isMember,
	merchantSerialNumber: '123456',
});

// ---------------------------------------------------------------------------------------------

describe('the packed package inside real n8n', () => {
	itN8n('is installed from its tarball into the user folder (a copy, not a link to this checkout), with nothing of its own in node_modules', async () => {
		const installed = stack.n8n.packageDir;
		expect(installed).toBe(join(stack.n8n.env.N8N_USER_FOLDER, '.n8n', 'nodes', 'node_modules', PACKAGE_NAME));
		expect(lstatSync(installed).isSymbolicLink()).toBe(false);
		const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as IDataObject;
		expect({ name: manifest.name, version: manifest.version, devDependencies: manifest.devDependencies }).toEqual({
			name: PACKAGE_NAME,
			version: PACKAGE_VERSION,
			devDependencies: undefined,
		});
		// No runtime dependency: n8n's `npm install` put nothing beside the package; zod and
		// n8n-workflow come from n8n itself (NODE_PATH), as for a verified package on n8n Cloud.
		const ownModules = join(installed, 'node_modules');
		expect(existsSync(ownModules) ? readdirSync(ownModules).filter((name) => !name.startsWith('.')) : []).toEqual([]);
		// n8n's n8n-workflow is released with n8n: same major and minor version.
		expect(n8nWorkflowVersion.split('.').slice(0, 2)).toEqual(N8N_VERSION.split('.').slice(0, 2));
	});
});

describe('the examples, executed by `n8n execute`', () => {
	itN8n('form-check-in.json: checks in the customer who answered Yes, one token for the run', async () => {
		const { result, requests } = await run(headlessCopy(loadExample('form-check-in.json'), FORM_SUBMISSION));

		expect(result.error).toBeNull();
		const output = itemsOf(result, 'Vipps Check-in');
		expect(jsonOf(output)).toEqual([checkedIn('4791234567', true)]);
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }]);
		expect(calls(requests)).toEqual([`200 ${PATHS.accessToken}`, `200 ${PATHS.checkIn}`]);
		expect(requests[1].body).toEqual({ phoneNumber: '4791234567', isMember: true });
		expectVippsSystemHeaders(requests, n8nWorkflowVersion);
		expect(result.ok).toBe(true);
	});

	itN8n('scheduled-bulk-check-in.json: sends the valid numbers, explains the invalid ones (On Error → Continue), keeps pairing, one token for all', async () => {
		const { result, requests } = await run(headlessCopy(loadExample('scheduled-bulk-check-in.json'), SCHEDULED_RUN));

		expect(result.error).toBeNull();
		const customers = jsonOf(itemsOf(result, 'One item per customer'));
		expect(customers.map((customer) => customer.name)).toEqual(BULK_CUSTOMER_NAMES);

		const results = itemsOf(result, 'Vipps Check-in');
		// Item i of the output answers customer i: n8n's item linking ($('One item per customer').item) holds.
		expect(results.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
		expect(jsonOf(results.slice(0, 4))).toEqual(BULK_CHECKED_IN.map(({ phoneNumber, isMember }) => checkedIn(phoneNumber, isMember)));
		const failed = jsonOf(results.slice(4));
		expectBulkRefusals(failed);
		expect(failed.map((item) => (item.details as IDataObject).description)).toEqual(Array(3).fill(expect.stringMatching(/^Nothing was sent for this item\./)));

		// One token for the whole run, then one check-in per valid number; the invalid ones never leave n8n.
		expect(calls(requests)).toEqual([`200 ${PATHS.accessToken}`, ...Array(4).fill(`200 ${PATHS.checkIn}`)]);
		expect(requests.slice(1).map((request) => request.body as IDataObject).sort((a, b) => String(a.phoneNumber).localeCompare(String(b.phoneNumber)))).toEqual([
			{ phoneNumber: '4740000000', isMember: true },
			{ phoneNumber: '4741234567', isMember: false },
			{ phoneNumber: '4791234567', isMember: true },
			{ phoneNumber: '4798765432', isMember: true },
		]);
		expectVippsSystemHeaders(requests, n8nWorkflowVersion);

		expect(jsonOf(itemsOf(result, 'Sent vs failed'))).toEqual([
			{ count_checkInId: 4, count_error: 3, appended_error: failed.map((item) => item.error) },
		]);
	});

	itN8n('qr-code-to-check-in.json: exchanges the scanned code for the phone number and checks it in, both calls on one token', async () => {
		stack.simulator.registerPersonalQrCode(SCANNED_QR_CODE, '4748123456');
		const { result, requests } = await run(
			headlessCopy(loadExample('qr-code-to-check-in.json'), webhookCall('vipps-qr-scan', { qrCode: SCANNED_QR_CODE }, { 'user-agent': 'till-scanner/1.0' }, 'production')),
		);

		expect(result.error).toBeNull();
		expect(jsonOf(itemsOf(result, 'Get phone number from QR code'))).toEqual([
			{ phoneNumber: '4748123456', qrCodeVersion: '2.0', qrCodeCreatedAt: expect.any(String), merchantSerialNumber: '123456' },
		]);
		expect(jsonOf(itemsOf(result, 'Send check-in'))).toEqual([checkedIn('4748123456', true)]);
		expect(calls(requests)).toEqual([`200 ${PATHS.accessToken}`, `200 ${PATHS.qrExchange}`, `200 ${PATHS.checkIn}`]);
		expect(requests[1].body).toMatchObject({ qrCode: SCANNED_QR_CODE });
		expect(requests[2].body).toEqual({ phoneNumber: '4748123456', isMember: true });
		expectVippsSystemHeaders(requests, n8nWorkflowVersion);
	});

	itN8n('dry-run.json (a Manual Trigger already: run as is): shows every request it would send and sends nothing', async () => {
		const { result, requests } = await run(loadExample('dry-run.json'));

		expect(result.error).toBeNull();
		const rows = jsonOf(itemsOf(result, 'Vipps Check-in (dry run)'));
		expect(rows.slice(0, 3).map(({ dryRun, phoneNumber, isMember }) => ({ dryRun, phoneNumber, isMember }))).toEqual([
			{ dryRun: true, phoneNumber: '4791234567', isMember: true },
			{ dryRun: true, phoneNumber: '4798765432', isMember: false },
			{ dryRun: true, phoneNumber: '4740000000', isMember: true },
		]);
		expect(rows[0].request).toMatchObject({
			method: 'POST',
			url: `${stack.simulator.baseUrl}${PATHS.checkIn}`,
			body: { phoneNumber: '4791234567', isMember: true },
		});
		expect(rows[3].error).toMatch(/^Phone Number: .*Norwegian/);
		expect(JSON.stringify(result.runData)).not.toContain(stack.simulator.keys.subscriptionKey);
		expect(JSON.stringify(result.runData)).not.toContain(stack.simulator.keys.clientSecret);
		expect(requests).toEqual([]);
	});
});

/**
 * The two webhook examples published in a running n8n (`n8n start`), called at their production
 * URLs as HubSpot and the till call them, and by a stranger who learned the URL.
 */
describe('the webhook examples, published in a running n8n', () => {
	let folder: N8nUserFolder | undefined;
	let server: RunningN8n | undefined;
	const itServer = itWithN8nLog(() => server?.logTail());
	const TILL_KEY = 'till-password-for-the-e2e-test';

	beforeAll(async () => {
		folder = await N8nUserFolder.create();
		server = await kit.startN8n(folder.env);
		const { cookie } = await kit.setupOwner(server.url);
		const rest = kit.restClient(server.url, cookie);
		// The builder's credentials, created as the editor creates them.
		const { id: _harnessId, ...vipps } = simulatorCredential(stack.simulator);
		const credentials: ImportedCredential[] = [];
		for (const credential of [
			{ ...vipps, name: 'Vipps MobilePay API (simulator)' },
			{ name: 'Till key', type: 'httpHeaderAuth', data: { name: 'X-Till-Key', value: TILL_KEY } },
			{ name: 'HubSpot app secret', type: 'crypto', data: { hmacSecret: HUBSPOT_APP_SECRET } },
		]) {
			const { id } = await rest.post<{ id: string }>('/credentials', credential);
			credentials.push({ ...credential, id });
		}
		await publishWorkflow(server.url, rest, withCredentials(loadExample('crm-contact-updated.json'), credentials), 'hubspot-contact-updated');
		await publishWorkflow(server.url, rest, withCredentials(loadExample('qr-code-to-check-in.json'), credentials), 'vipps-qr-scan');
	}, E2E_TIMEOUT_MS);

	afterAll(async () => {
		await server?.stop();
		folder?.remove();
	}, E2E_TIMEOUT_MS);

	async function post(path: string, body: string, headers: Record<string, string>): Promise<number> {
		const response = await fetch(`${server!.url}/webhook/${path}`, { method: 'POST', headers, body });
		await response.text();
		return response.status;
	}

	/** Resolves once the simulator has received a check-in after request number `from`: the requests since then. */
	async function untilCheckIn(from: number): Promise<RecordedRequest[]> {
		for (let count = from + 1; ; count++) {
			const requests = (await stack.simulator.waitForRequests(count)).slice(from);
			if (requests.some((request) => request.path === PATHS.checkIn)) return [...requests];
		}
	}

	itServer('crm-contact-updated.json: unsigned, wrongly signed, tampered and replayed calls get 401 and send nothing; a call signed by HubSpot checks the member in', async () => {
		const url = `${server!.url}/webhook/hubspot-contact-updated`;
		const contact = hubSpotContact({ firstname: 'Bjørn', mobilephone: '+47 912 34 567', loyalty_member: 'true' });
		const signed = signedHubSpotCall(url, contact);
		const before = stack.simulator.requests.length;

		const refused = {
			unsigned: await post('hubspot-contact-updated', signed.rawBody, { 'content-type': 'application/json' }),
			'another secret': await post('hubspot-contact-updated', signed.rawBody, signedHubSpotCall(url, contact, { secret: 'a-guessed-secret' }).headers),
			'body re-serialised': await post('hubspot-contact-updated', JSON.stringify(contact), signed.headers),
			'signed 6 minutes ago': await post(
				'hubspot-contact-updated',
				signed.rawBody,
				signedHubSpotCall(url, contact, { signedAt: Date.now() - 6 * 60_000 }).headers,
			),
		};
		expect(refused).toEqual({ unsigned: 401, 'another secret': 401, 'body re-serialised': 401, 'signed 6 minutes ago': 401 });
		// A refusal is the last node of its branch: once answered, nothing more runs.
		expect(stack.simulator.requests.slice(before)).toEqual([]);

		expect(await post('hubspot-contact-updated', signed.rawBody, { ...HUBSPOT_HEADERS, ...signed.headers })).toBe(200);
		const requests = await untilCheckIn(before);
		expect(requests.filter((request) => request.path === PATHS.checkIn).map((request) => request.body)).toEqual([
			{ phoneNumber: '4791234567', isMember: true },
		]);
		expect(requests.filter((request) => request.path !== PATHS.accessToken && request.path !== PATHS.checkIn)).toEqual([]);
	});

	itServer('qr-code-to-check-in.json: a call without the till\'s header, or with a wrong one, is refused by n8n (403) and sends nothing; the till\'s call checks in', async () => {
		stack.simulator.registerPersonalQrCode(SCANNED_QR_CODE, '4748123456');
		const body = JSON.stringify({ qrCode: SCANNED_QR_CODE });
		const before = stack.simulator.requests.length;

		// n8n's Header Auth answers 403 ("Authorization data is wrong!") before any node runs.
		expect({
			'no header': await post('vipps-qr-scan', body, { 'content-type': 'application/json' }),
			'wrong value': await post('vipps-qr-scan', body, { 'content-type': 'application/json', 'x-till-key': 'guess' }),
		}).toEqual({ 'no header': 403, 'wrong value': 403 });
		expect(stack.simulator.requests.slice(before)).toEqual([]);

		expect(await post('vipps-qr-scan', body, { 'content-type': 'application/json', 'x-till-key': TILL_KEY })).toBe(200);
		const requests = await untilCheckIn(before);
		expect(requests.filter((request) => request.path === PATHS.qrExchange).map((request) => (request.body as IDataObject).qrCode)).toEqual([SCANNED_QR_CODE]);
		expect(requests.filter((request) => request.path === PATHS.checkIn).map((request) => request.body)).toEqual([
			{ phoneNumber: '4748123456', isMember: true },
		]);
	});
});
