/**
 * The example workflows in examples/ as a no-code builder imports them: each file is loaded as
 * it is on disk, its credential placeholder swapped for a simulator credential (what the builder
 * does after import), the trigger pinned with the items that trigger really emits, and the whole
 * workflow run through n8n's engine against the local Vipps simulator.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
	NodeHelpers,
	type IDataObject,
	type INode,
	type INodeExecutionData,
	type INodeParameters,
	type INodeType,
	type INodeTypeDescription,
	type IVersionedNodeType,
} from 'n8n-workflow';

import {
	BASE_NODES,
	REPOSITORY_ROOT,
	loadPackage,
	processedData,
	runWorkflow,
	type HarnessCredential,
	type WorkflowJson,
	type WorkflowRun,
} from '../../harness/runWorkflow';
import type { VippsSimulator } from '../../simulator/VippsSimulator';
import { BULK_CHECKED_IN, BULK_CUSTOMER_NAMES, expectBulkRefusals } from '../fixtures/bulkExample';
import { HUBSPOT_HEADERS, SCHEDULED_RUN, hubSpotContact, webhookCall } from '../fixtures/triggerItems';
import { VIPPS_NODE_TYPE, simulatorCredential, startSimulator } from '../workflow/fixtures';
import { HUBSPOT_APP_SECRET, signedHubSpotCall } from './hubspot';

/**
 * The n8n nodes the secured webhook examples use, beside those the harness knows: the crm example
 * checks HubSpot's signature with Extract From File, Crypto, Date & Time and Respond to Webhook.
 * (Kept here, next to the examples that need them; they could move into the harness's list.)
 */
Object.assign(BASE_NODES, {
	'n8n-nodes-base.extractFromFile': 'Files/ExtractFromFile/ExtractFromFile.node.js',
	'n8n-nodes-base.crypto': 'Crypto/Crypto.node.js',
	'n8n-nodes-base.dateTime': 'DateTime/DateTime.node.js',
	'n8n-nodes-base.respondToWebhook': 'RespondToWebhook/RespondToWebhook.node.js',
});

const EXAMPLES_DIR = join(REPOSITORY_ROOT, 'examples');
const EXAMPLE_FILES = [
	'form-check-in.json',
	'crm-contact-updated.json',
	'scheduled-bulk-check-in.json',
	'qr-code-to-check-in.json',
	'dry-run.json',
	'possible-duplicates-to-staff.json',
];
const PLACEHOLDER_CREDENTIAL = { vippsMobilePayApi: { id: 'REPLACE_ME', name: 'Vipps MobilePay API' } };
/** The credential each secured webhook example asks the builder for, as a placeholder too. */
const OTHER_PLACEHOLDERS: Record<string, INode['credentials']> = {
	'n8n-nodes-base.webhook': { httpHeaderAuth: { id: 'REPLACE_ME', name: 'Till key' } },
	'n8n-nodes-base.crypto': { crypto: { id: 'REPLACE_ME', name: 'HubSpot app secret' } },
};

const TRIGGER_TYPES = [
	'n8n-nodes-base.manualTrigger',
	'n8n-nodes-base.webhook',
	'n8n-nodes-base.formTrigger',
	'n8n-nodes-base.scheduleTrigger',
];
const STICKY_NOTE = 'n8n-nodes-base.stickyNote';
const CHECK_IN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A check-in answered 200 at the first attempt. */
const SENT_ONCE = { attempts: 1, possibleDuplicate: false };

function loadExample(file: string): WorkflowJson {
	return JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as WorkflowJson;
}

function nodeNamed(workflow: WorkflowJson, name: string): INode {
	const node = workflow.nodes.find((n) => n.name === name);
	if (!node) throw new Error(`No node "${name}" in ${workflow.name}`);
	return node;
}

function triggerOf(workflow: WorkflowJson): INode {
	const triggers = workflow.nodes.filter((n) => TRIGGER_TYPES.includes(n.type));
	expect(triggers).toHaveLength(1);
	return triggers[0];
}

/** The builder's own credentials: the Vipps keys (here the simulator's), the till's header, the HubSpot app's secret. */
function builderCredentials(simulator: VippsSimulator): HarnessCredential[] {
	return [
		simulatorCredential(simulator),
		{ id: 'till-key', name: 'Till key', type: 'httpHeaderAuth', data: { name: 'X-Till-Key', value: 'till-password-for-tests' } },
		{ id: 'hubspot-secret', name: 'HubSpot app secret', type: 'crypto', data: { hmacSecret: HUBSPOT_APP_SECRET } },
	];
}

/** What the builder does after import: picks their own credential wherever the example has a placeholder. */
function withCredential(workflow: WorkflowJson, simulator: VippsSimulator) {
	const credentials = builderCredentials(simulator);
	const nodes = workflow.nodes.map((node) => {
		if (!node.credentials) return node;
		const picked = Object.keys(node.credentials).map((type) => {
			const credential = credentials.find((candidate) => candidate.type === type)!;
			return [type, { id: credential.id, name: credential.name }];
		});
		return { ...node, credentials: Object.fromEntries(picked) as INode['credentials'] };
	});
	return { workflow: { ...workflow, nodes }, credentials };
}

/** Runs an example as its trigger would start it, with `triggerItems` pinned as the trigger's output. */
async function runExample(
	file: string,
	simulator: VippsSimulator,
	triggerItems: (workflow: WorkflowJson, trigger: INode) => INodeExecutionData[] | Promise<INodeExecutionData[]>,
): Promise<WorkflowRun> {
	const example = loadExample(file);
	const trigger = triggerOf(example);
	const { workflow, credentials } = withCredential(example, simulator);
	const pinned = { ...workflow, pinData: { [trigger.name]: await triggerItems(example, trigger) } };
	return await runWorkflow(pinned, { credentials, startNode: trigger.name });
}

const jsonOf = (items: INodeExecutionData[]) => items.map((item) => item.json);
const checkInBodies = (simulator: VippsSimulator) => simulator.checkInRequests().map((request) => request.body);

// ---------------------------------------------------------------------------------------------
// Trigger output, in the shapes n8n's own trigger nodes produce.

/**
 * A Form Trigger submission, built by n8n's own form code (prepareFormReturnItem) from the
 * multipart body the form page posts: `field-<index>` per field, a dropdown as the label of the
 * option the customer picked — exactly what the browser form sends.
 */
async function formSubmission(formNode: INode, answers: { phone: string; member: string }): Promise<INodeExecutionData> {
	const { prepareFormReturnItem } = require('n8n-nodes-base/dist/nodes/Form/utils/utils') as {
		prepareFormReturnItem: (context: unknown, fields: IDataObject[], mode: string, useWorkflowTimezone: boolean) => Promise<INodeExecutionData>;
	};
	// As n8n's engine does when it loads a workflow: fill in every parameter's default (e.g. fieldType "text").
	const node = { ...formNode, parameters: withDefaults(formNode) };
	const fields = (node.parameters.formFields as { values: IDataObject[] }).values;
	const body: Record<string, string> = {};
	fields.forEach((field, index) => {
		if (field.fieldName === 'phone' && field.fieldType === 'text') body[`field-${index}`] = answers.phone;
		else if (field.fieldName === 'loyaltyMember' && field.fieldType === 'dropdown') {
			const options = (field.fieldOptions as { values: Array<{ option: string }> }).values.map(({ option }) => option);
			if (!options.includes(answers.member)) throw new Error(`The form offers ${options.join(', ')}, not "${answers.member}"`);
			body[`field-${index}`] = answers.member;
		} else throw new Error(`The test does not know how to fill in the form field ${JSON.stringify(field)}`);
	});
	const context = {
		getRequestObject: () => ({ contentType: 'multipart/form-data', query: {} }),
		getBodyData: () => ({ data: body, files: {} }),
		getWorkflowSettings: () => ({}),
		getNode: () => node,
		getTimezone: () => 'Europe/Oslo',
		getNodeParameter: (name: string, fallback: unknown) =>
			name.split('.').reduce<unknown>((value, key) => (value as IDataObject | undefined)?.[key], node.parameters) ?? fallback,
	};
	// Form Trigger v2.1+ uses the workflow's timezone by default; a test-URL submission has formMode "test".
	return await prepareFormReturnItem(context, fields, 'test', true);
}

// ---------------------------------------------------------------------------------------------

/** The Webhook node's item for a call to this example's webhook, as in the editor's test mode. */
function webhookItem(webhookNode: INode, body: IDataObject, headers: IDataObject): INodeExecutionData {
	return { json: webhookCall(webhookNode.parameters.path as string, body, headers, 'test') };
}

/**
 * The Webhook node's item for a HubSpot call, as n8n emits it with the Raw Body option: the parsed
 * body, the headers, and the bytes as sent as binary `data`. Signed as HubSpot signs it, unless
 * `signing` says otherwise; `rawBody` replaces the bytes sent (to send other bytes than were signed).
 */
function hubSpotItem(
	webhookNode: INode,
	contact: IDataObject,
	signing: { secret?: string; signedAt?: number; unsigned?: boolean; rawBody?: string } = {},
): INodeExecutionData {
	const json = webhookCall(webhookNode.parameters.path as string, contact, HUBSPOT_HEADERS, 'test');
	const call = signedHubSpotCall(json.webhookUrl as string, contact, signing);
	const headers = signing.unsigned ? { 'content-type': 'application/json' } : call.headers;
	return {
		json: { ...json, headers: { ...(json.headers as IDataObject), ...headers } },
		binary: { data: { data: Buffer.from(signing.rawBody ?? call.rawBody).toString('base64'), mimeType: 'application/json' } },
	};
}

describe('running the examples', () => {
	let simulator: VippsSimulator;

	beforeEach(async () => {
		processedData.clear();
		simulator = await startSimulator();
	});

	afterEach(async () => {
		await simulator.close();
	});

	describe('form-check-in.json', () => {
		it('checks in a customer who answered Yes, with the number as typed in the form', async () => {
			const run = await runExample('form-check-in.json', simulator, async (_, form) => [
				await formSubmission(form, { phone: ' +47 912 34 567 ', member: 'Yes' }),
			]);

			expect(run.error).toBeUndefined();
			expect(run.itemsOf('On form submission')[0].json).toMatchObject({ phone: '+47 912 34 567', loyaltyMember: 'Yes', formMode: 'test' });
			expect(jsonOf(run.itemsOf('Vipps Check-in'))).toEqual([
				{ checkInId: expect.stringMatching(CHECK_IN_ID), ...SENT_ONCE, phoneNumber: '4791234567', isMember: true, merchantSerialNumber: '123456' },
			]);
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
		});

		it('sends isMember false when the customer answered No', async () => {
			const run = await runExample('form-check-in.json', simulator, async (_, form) => [
				await formSubmission(form, { phone: '98765432', member: 'No' }),
			]);

			expect(run.error).toBeUndefined();
			expect(run.itemsOf('Vipps Check-in')[0].json).toMatchObject({ phoneNumber: '4798765432', isMember: false });
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4798765432', isMember: false }]);
		});

		it('checks a number in once a day however often the public form is sent for it (Skip Repeats)', async () => {
			const first = await runExample('form-check-in.json', simulator, async (_, form) => [await formSubmission(form, { phone: '98765432', member: 'Yes' })]);
			const again = await runExample('form-check-in.json', simulator, async (_, form) => [await formSubmission(form, { phone: '+47 987 65 432', member: 'Yes' })]);

			expect(first.itemsOf('Vipps Check-in')[0].json).toMatchObject({ checkInId: expect.stringMatching(CHECK_IN_ID) });
			expect(again.itemsOf('Vipps Check-in')[0].json).toMatchObject({ skipped: true, phoneNumber: '4798765432' });
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4798765432', isMember: true }]);
		});
	});

	describe('crm-contact-updated.json', () => {
		it('accepts a call signed by HubSpot and routes a loyalty member to Vipps Check-in', async () => {
			const run = await runExample('crm-contact-updated.json', simulator, (_, webhook) => [
				hubSpotItem(webhook, hubSpotContact({ firstname: 'Bjørn', mobilephone: '+47 912 34 567', loyalty_member: 'true' })),
			]);

			expect(run.error).toBeUndefined();
			expect(run.itemsOf('Accept the call')).toHaveLength(1);
			expect(run.itemsOf('Refuse: not signed by HubSpot')).toHaveLength(0);
			expect(run.itemsOf('Refuse: too old')).toHaveLength(0);
			expect(run.itemsOf('Is loyalty member?', 0)).toHaveLength(1);
			expect(run.itemsOf('Is loyalty member?', 1)).toHaveLength(0);
			expect(run.itemsOf('Not a member')).toHaveLength(0);
			expect(jsonOf(run.itemsOf('Vipps Check-in'))).toEqual([
				{ checkInId: expect.stringMatching(CHECK_IN_ID), ...SENT_ONCE, phoneNumber: '4791234567', isMember: true, merchantSerialNumber: '123456' },
			]);
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
		});

		it('checks a contact in once when HubSpot calls again for another change (Skip Repeats)', async () => {
			processedData.clear();
			const kari = hubSpotContact({ firstname: 'Kari', mobilephone: '+47 912 34 567', loyalty_member: 'true' });
			const first = await runExample('crm-contact-updated.json', simulator, (_, webhook) => [hubSpotItem(webhook, kari)]);
			const second = await runExample('crm-contact-updated.json', simulator, (_, webhook) => [hubSpotItem(webhook, kari)]);

			expect(first.itemsOf('Vipps Check-in')[0].json).toMatchObject({ checkInId: expect.stringMatching(CHECK_IN_ID) });
			expect(second.itemsOf('Vipps Check-in')[0].json).toMatchObject({
				skipped: true,
				message: expect.stringMatching(/^Not sent again: already checked in between /),
				phoneNumber: '4791234567',
			});
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
		});

		it.each([
			['"false"', { loyalty_member: 'false' }],
			['no loyalty_member property at all', {}],
		])('sends nothing to Vipps for a non-member (%s) and routes the contact to "Not a member"', async (_label, membership) => {
			const run = await runExample('crm-contact-updated.json', simulator, (_, webhook) => [
				hubSpotItem(webhook, hubSpotContact({ firstname: 'Ola', mobilephone: '98765432', ...membership })),
			]);

			expect(run.error).toBeUndefined();
			expect(run.itemsOf('Is loyalty member?', 0)).toHaveLength(0);
			expect(run.itemsOf('Not a member')).toHaveLength(1);
			expect(run.itemsOf('Not a member')[0].json.body).toMatchObject({ objectId: 51 });
			expect(run.run.data.resultData.runData['Vipps Check-in']).toBeUndefined();
			expect(simulator.requests).toHaveLength(0);
		});

		const member = hubSpotContact({ firstname: 'Kari', mobilephone: '+47 912 34 567', loyalty_member: 'true' });
		it.each([
			['a call without signature headers', 'Refuse: not signed by HubSpot', { unsigned: true }],
			['a call signed with another secret', 'Refuse: not signed by HubSpot', { secret: 'a-guessed-secret' }],
			['a body other than the one signed', 'Refuse: not signed by HubSpot', { rawBody: JSON.stringify({ ...member, portalId: 1 }) }],
			['a body re-serialised (not byte for byte what was signed)', 'Refuse: not signed by HubSpot', { rawBody: JSON.stringify(member) }],
			['a correctly signed call from 6 minutes ago (a replay)', 'Refuse: too old', { signedAt: Date.now() - 6 * 60_000 }],
		])('answers %s with 401 and sends nothing', async (_label, refusedBy, signing) => {
			const run = await runExample('crm-contact-updated.json', simulator, (_, webhook) => [hubSpotItem(webhook, member, signing)]);

			expect(run.error).toBeUndefined();
			expect(run.itemsOf(refusedBy)).toHaveLength(1);
			const respond = loadExample('crm-contact-updated.json').nodes.find((node) => node.name === refusedBy)!;
			expect(respond.parameters.options).toEqual({ responseCode: 401 });
			expect(run.run.data.resultData.runData['Accept the call']).toBeUndefined();
			expect(run.run.data.resultData.runData['Vipps Check-in']).toBeUndefined();
			expect(simulator.requests).toHaveLength(0);
		});
	});

	describe('scheduled-bulk-check-in.json', () => {
		it('sends the valid numbers, turns the invalid ones into error items, and summarises sent vs failed', async () => {
			const run = await runExample('scheduled-bulk-check-in.json', simulator, () => [{ json: SCHEDULED_RUN }]);

			expect(run.error).toBeUndefined();
			const customers = jsonOf(run.itemsOf('One item per customer'));
			expect(customers.map((c) => c.name)).toEqual(BULK_CUSTOMER_NAMES);

			const results = run.itemsOf('Vipps Check-in');
			expect(results.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
			const sent = jsonOf(results.slice(0, 4));
			expect(sent).toEqual(
				BULK_CHECKED_IN.map((checkIn) => ({ checkInId: expect.stringMatching(CHECK_IN_ID), ...SENT_ONCE, ...checkIn, merchantSerialNumber: '123456' })),
			);
			const failed = jsonOf(results.slice(4));
			expectBulkRefusals(failed);

			expect(
				checkInBodies(simulator).sort((a, b) => String((a as IDataObject).phoneNumber).localeCompare(String((b as IDataObject).phoneNumber))),
			).toEqual([
				{ phoneNumber: '4740000000', isMember: true },
				{ phoneNumber: '4741234567', isMember: false },
				{ phoneNumber: '4791234567', isMember: true },
				{ phoneNumber: '4798765432', isMember: true },
			]);
			expect(simulator.tokenRequests()).toHaveLength(1);

			expect(jsonOf(run.itemsOf('Sent vs failed'))).toEqual([
				{ count_checkInId: 4, count_error: 3, appended_error: failed.map((item) => item.error) },
			]);
		});
	});

	describe('qr-code-to-check-in.json', () => {
		const SCANNED = 'https://qr.vipps.no/p/5ZcG8qkwbG0xU1Sd';

		it('exchanges the scanned code for a phone number and checks that number in', async () => {
			simulator.registerPersonalQrCode(SCANNED, '4748123456');
			const run = await runExample('qr-code-to-check-in.json', simulator, (_, webhook) => [
				webhookItem(webhook, { qrCode: SCANNED }, { 'user-agent': 'till-scanner/1.0' }),
			]);

			expect(run.error).toBeUndefined();
			expect(jsonOf(run.itemsOf('Get phone number from QR code'))).toEqual([
				{ phoneNumber: '4748123456', qrCodeVersion: '2.0', qrCodeCreatedAt: expect.any(String), merchantSerialNumber: '123456' },
			]);
			expect(simulator.qrExchangeRequests().map((request) => (request.body as IDataObject).qrCode)).toEqual([SCANNED]);
			expect(checkInBodies(simulator)).toEqual([{ phoneNumber: '4748123456', isMember: true }]);
			expect(jsonOf(run.itemsOf('Send check-in'))).toEqual([
				{ checkInId: expect.stringMatching(CHECK_IN_ID), ...SENT_ONCE, phoneNumber: '4748123456', isMember: true, merchantSerialNumber: '123456' },
			]);
		});

		it('stops at the exchange and checks nobody in when Vipps does not know the code', async () => {
			const run = await runExample('qr-code-to-check-in.json', simulator, (_, webhook) => [
				webhookItem(webhook, { qrCode: 'not a personal QR code' }, { 'user-agent': 'till-scanner/1.0' }),
			]);

			expect(run.error).toBeDefined();
			expect((run.error as unknown as { node?: { name: string } }).node?.name).toBe('Get phone number from QR code');
			expect(simulator.qrExchangeRequests()).toHaveLength(1);
			expect(simulator.checkInRequests()).toHaveLength(0);
			expect(run.run.data.resultData.runData['Send check-in']).toBeUndefined();
		});
	});

	describe('possible-duplicates-to-staff.json', () => {
		it('routes a failure that may have arrived to staff, and one that was not received to the safe-to-send-again branch', async () => {
			// Kari: Vipps's gateway answers 503 twice, so both attempts may have arrived. Anna: Vipps answers 500, nothing was received.
			simulator.injectFault({ fault: { kind: 'status', status: 503, retryAfterSeconds: 0 }, phoneNumber: '4791234567', times: 2 });
			simulator.injectFault({ fault: { kind: 'status', status: 500 }, phoneNumber: '4741234567' });
			const run = await runExample('possible-duplicates-to-staff.json', simulator, () => [{ json: {} }]);

			expect(run.error).toBeUndefined();
			expect(jsonOf(run.itemsOf('Vipps Check-in', 0))).toEqual([
				{ checkInId: expect.stringMatching(CHECK_IN_ID), ...SENT_ONCE, phoneNumber: '4798765432', isMember: true, merchantSerialNumber: '123456' },
			]);
			// The facts an error item carries in its details, httpCode as a number or its text.
			const facts = (items: INodeExecutionData[]) =>
				jsonOf(items).map(({ error, details }) => {
					const { phoneNumber, isMember, attempts, possibleDuplicate, httpCode } = details as IDataObject;
					return { phoneNumber, isMember, attempts, possibleDuplicate, httpCode: String(httpCode), error: typeof error, details: typeof details };
				});
			const failed = { error: 'string', details: 'object' };
			expect(facts(run.itemsOf('Tell staff: may have arrived'))).toEqual([
				{ phoneNumber: '4791234567', isMember: true, attempts: 2, possibleDuplicate: true, httpCode: '503', ...failed },
			]);
			expect(facts(run.itemsOf('Not received: safe to send again'))).toEqual([
				{ phoneNumber: '4741234567', isMember: false, attempts: 1, possibleDuplicate: false, httpCode: '500', ...failed },
			]);
		});
	});

	describe('dry-run.json', () => {
		it('shows what would be sent for every row and sends nothing, not even a token request', async () => {
			const run = await runExample('dry-run.json', simulator, () => [{ json: {} }]);

			expect(run.error).toBeUndefined();
			const rows = jsonOf(run.itemsOf('Vipps Check-in (dry run)'));
			expect(rows).toHaveLength(4);
			expect(rows.slice(0, 3).map((row) => ({ dryRun: row.dryRun, phoneNumber: row.phoneNumber, isMember: row.isMember }))).toEqual([
				{ dryRun: true, phoneNumber: '4791234567', isMember: true },
				{ dryRun: true, phoneNumber: '4798765432', isMember: false },
				{ dryRun: true, phoneNumber: '4740000000', isMember: true },
			]);
			expect(rows[0].request).toMatchObject({
				method: 'POST',
				url: `${simulator.baseUrl}/point-of-sale/v1/loyalty-check-in`,
				body: { phoneNumber: '4791234567', isMember: true },
			});
			expect(rows[3].error).toMatch(/^Phone Number: .*Norwegian/);
			expect(JSON.stringify(rows)).not.toContain(simulator.keys.subscriptionKey);
			expect(simulator.requests).toHaveLength(0);
		});
	});
});

// ---------------------------------------------------------------------------------------------

/**
 * What n8n's editor writes when fields are dragged from the input panel into a parameter: one
 * `{{ $json.a.b }}` per field (`['x-name']` for a name with a dash, as the editor writes it), or
 * several dragged into one text, with plain text around them; and `{{ $now }}`, the current time
 * the expression editor offers. Nothing that calls a function or computes.
 */
const FIELD = String.raw`\{\{ (\$json(\.[A-Za-z_][A-Za-z0-9_]*|\['[A-Za-z0-9_-]+'\])+|\$now) \}\}`;
const DRAGGED_FIELD = new RegExp(`^=([^{}]*${FIELD})+[^{}]*$`);

/** Every expression (a string starting with "=") among a node's parameters, however deeply nested. */
function expressionsIn(value: unknown): string[] {
	if (typeof value === 'string') return value.startsWith('=') ? [value] : [];
	if (Array.isArray(value)) return value.flatMap(expressionsIn);
	if (value && typeof value === 'object') return Object.values(value).flatMap(expressionsIn);
	return [];
}

function baseNodeType(type: string): INodeType | IVersionedNodeType {
	const exported = require(`n8n-nodes-base/dist/nodes/${BASE_NODES[type]}`) as Record<string, new () => INodeType | IVersionedNodeType>;
	return new (Object.values(exported)[0])();
}

/** A base node's parameters with every default filled in, as n8n's Workflow class prepares them. */
function withDefaults(node: INode): INodeParameters {
	const description = NodeHelpers.getVersionedNodeType(baseNodeType(node.type), node.typeVersion).description;
	return NodeHelpers.getNodeParameters(description.properties, node.parameters, true, false, node, description) ?? {};
}

/** The version n8n's editor gives a node it newly places: defaultVersion, else the newest listed. */
function editorDefaultVersion(nodeType: INodeType | IVersionedNodeType): number {
	const description = nodeType.description as Partial<INodeTypeDescription> & { defaultVersion?: number };
	return description.defaultVersion ?? Math.max(...([] as number[]).concat(description.version ?? 1));
}

describe('the example files', () => {
	const ours = loadPackage().nodeTypes.get(VIPPS_NODE_TYPE)!;

	it('are exactly the documented examples', () => {
		// The AI Agent example needs n8n's LangChain nodes, which only real n8n has: test/e2e/aiAgent.test.ts runs it.
		expect(readdirSync(EXAMPLES_DIR).filter((file) => file.endsWith('.json')).sort()).toEqual(
			[...EXAMPLE_FILES, 'ai-agent-check-in.json'].sort(),
		);
	});

	describe.each(EXAMPLE_FILES)('%s', (file) => {
		const text = readFileSync(join(EXAMPLES_DIR, file), 'utf8');
		const workflow = JSON.parse(text) as WorkflowJson & { settings: IDataObject };
		const working = workflow.nodes.filter((node) => node.type !== STICKY_NOTE);
		const notes = workflow.nodes.filter((node) => node.type === STICKY_NOTE);

		it('is a named n8n workflow export with v1 execution order', () => {
			expect(workflow.name).toEqual(expect.stringMatching(/^Vipps Check-in .{10,}/));
			expect(workflow.settings).toEqual({ executionOrder: 'v1' });
			expect(new Set(workflow.nodes.map((node) => node.id)).size).toBe(workflow.nodes.length);
			expect(new Set(workflow.nodes.map((node) => node.name)).size).toBe(workflow.nodes.length);
			for (const node of workflow.nodes) {
				expect(node.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
				expect(node.position).toEqual([expect.any(Number), expect.any(Number)]);
			}
		});

		it('uses only our node and the base nodes the harness runs, each at the version the n8n editor creates', () => {
			for (const node of workflow.nodes) {
				if (node.type === VIPPS_NODE_TYPE) {
					expect({ node: node.name, typeVersion: node.typeVersion }).toEqual({ node: node.name, typeVersion: editorDefaultVersion(ours) });
				} else {
					expect(Object.keys(BASE_NODES)).toContain(node.type);
					expect({ node: node.name, typeVersion: node.typeVersion }).toEqual({
						node: node.name,
						typeVersion: editorDefaultVersion(baseNodeType(node.type)),
					});
				}
			}
		});

		it('has no parameter the editor would flag as missing or invalid', () => {
			for (const node of working) {
				const nodeType = node.type === VIPPS_NODE_TYPE ? ours : baseNodeType(node.type);
				const description = NodeHelpers.getVersionedNodeType(nodeType, node.typeVersion).description;
				const parameters = NodeHelpers.getNodeParameters(description.properties, node.parameters, true, false, node, description);
				const issues = NodeHelpers.getNodeParametersIssues(description.properties, { ...node, parameters: parameters ?? {} }, description);
				expect({ node: node.name, issues }).toEqual({ node: node.name, issues: null });
			}
		});

		it('carries only credential placeholders, never keys', () => {
			for (const node of workflow.nodes) {
				if (node.type === VIPPS_NODE_TYPE) expect(node.credentials).toEqual(PLACEHOLDER_CREDENTIAL);
				else if (node.credentials) expect({ node: node.name, credentials: node.credentials }).toEqual({ node: node.name, credentials: OTHER_PLACEHOLDERS[node.type] });
			}
			expect(working.some((node) => node.type === VIPPS_NODE_TYPE)).toBe(true);
			expect(text).not.toMatch(/clientSecret|client_secret|subscriptionKey|Ocp-Apim|access_?token|Bearer\s+\w/i);
			// Vipps subscription keys and client secrets are long runs of hex or base64 characters.
			expect(text).not.toMatch(/\b[0-9a-f]{32}\b/i);
		});

		it('explains itself in a sticky note above the nodes', () => {
			expect(notes.length).toBeGreaterThan(0);
			const top = Math.min(...working.map((node) => node.position[1]));
			const above = notes.filter((note) => note.position[1] + (note.parameters.height as number) <= top);
			expect(above).toHaveLength(1);
			const content = above[0].parameters.content as string;
			expect(content).toMatch(/^## /);
			expect(content).toMatch(/credential/i);
			for (const note of notes) expect((note.parameters.content as string).length).toBeGreaterThan(50);
		});

		it('needs no code: every expression is a field dragged in from an earlier node ({{ $json.a.b }})', () => {
			const expressions = working.flatMap((node) => expressionsIn(node.parameters).map((expression) => ({ node: node.name, expression })));
			expect(expressions.length).toBeGreaterThan(0);
			for (const found of expressions) expect(found).toEqual({ node: found.node, expression: expect.stringMatching(DRAGGED_FIELD) });
		});

		it('is wired from its trigger, left to right, 200–250 px apart', () => {
			const trigger = triggerOf(workflow);
			const names = new Set(working.map((node) => node.name));
			const reached = new Set([trigger.name]);
			for (const [source, outputs] of Object.entries(workflow.connections)) {
				expect(names).toContain(source);
				for (const connection of (outputs.main ?? []).flat()) {
					expect(names).toContain(connection!.node);
					reached.add(connection!.node);
					const gap = nodeNamed(workflow, connection!.node).position[0] - nodeNamed(workflow, source).position[0];
					expect({ from: source, to: connection!.node, gapAtLeast200: gap >= 200, gapAtMost250: gap <= 250 }).toEqual({
						from: source,
						to: connection!.node,
						gapAtLeast200: true,
						gapAtMost250: true,
					});
				}
			}
			expect([...reached].sort()).toEqual([...names].sort());
		});
	});

	describe.each(EXAMPLE_FILES)('%s lets no stranger in', (file) => {
		const workflow = loadExample(file);

		it('every webhook takes an n8n credential (Header Auth) or answers 401 to what its own nodes refuse', () => {
			for (const webhook of workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.webhook')) {
				const { authentication, responseMode } = webhook.parameters as IDataObject;
				if (authentication === 'headerAuth') {
					expect(webhook.credentials).toEqual(OTHER_PLACEHOLDERS['n8n-nodes-base.webhook']);
					continue;
				}
				expect({ webhook: webhook.name, authentication: authentication ?? 'none', responseMode }).toEqual({
					webhook: webhook.name,
					authentication: 'none',
					responseMode: 'responseNode',
				});
				const refusals = workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.respondToWebhook' && (node.parameters.options as IDataObject)?.responseCode === 401);
				expect(refusals.length).toBeGreaterThan(0);
			}
		});

		it('a public form checks a number in at most once a day (Skip Repeats)', () => {
			if (!workflow.nodes.some((node) => node.type === 'n8n-nodes-base.formTrigger')) return;
			for (const vipps of workflow.nodes.filter((node) => node.type === VIPPS_NODE_TYPE)) {
				expect((vipps.parameters.options as IDataObject).skipRepeats).toEqual(expect.stringMatching(/^(sameDay|sameHour|minutes)$/));
			}
		});
	});

	it('set On Error to Continue where a list may hold bad rows (bulk and dry run)', () => {
		for (const file of ['scheduled-bulk-check-in.json', 'dry-run.json']) {
			const vipps = loadExample(file).nodes.filter((node) => node.type === VIPPS_NODE_TYPE);
			expect(vipps.map((node) => node.onError)).toEqual(['continueRegularOutput']);
		}
	});
});
