/** What the end-to-end tests share: a user folder with the packed package, example loading, run data access. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { IConnections, IDataObject, INode, INodeExecutionData, INodeParameters } from 'n8n-workflow';

import type { RecordedRequest, VippsSimulator } from '../../simulator/VippsSimulator';
import { simulatorCredential, startSimulator } from '../workflow/fixtures';
import {
	kit,
	type CredentialToImport,
	type ExecuteResult,
	type ImportedCredential,
	type N8nEnv,
	type RestClient,
	type UserFolder,
	type WorkflowToImport,
} from './kit';

export const REPOSITORY_ROOT = join(__dirname, '..', '..');

const manifest = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
export const PACKAGE_NAME = manifest.name;
export const PACKAGE_VERSION = manifest.version;
export const VIPPS_NODE_TYPE = `${PACKAGE_NAME}.vippsCheckIn`;
export const VIPPS_TOOL_TYPE = `${PACKAGE_NAME}.vippsCheckInTool`;

export const CHECK_IN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Per test and hook: a warm `n8n execute` takes 5–10 s on a busy 2-core machine, `n8n start` ~20 s. */
export const E2E_TIMEOUT_MS = 4 * 60_000;

/** The version of the n8n the kit installed, from its own package.json. */
/**
 * What the node sends as Vipps-System-Version inside this n8n: the version of n8n's own
 * n8n-workflow library (a node cannot read n8n's version; n8n-workflow is released with n8n).
 */
export async function installedN8nWorkflowVersion(): Promise<string> {
	const { n8nDir } = await kit.ensureN8n();
	const manifest = join(n8nDir, 'node_modules', 'n8n-workflow', 'package.json');
	return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * A fresh N8N_USER_FOLDER with the tarball globalSetup packed installed as a community package,
 * the way n8n's installer does it, and the n8n commands run on it. Remembers the log tail of
 * the last run, for failure messages.
 */
export class N8nUserFolder {
	private lastLogTail = '';

	private constructor(
		private readonly folder: UserFolder,
		readonly env: N8nEnv,
	) {}

	static async create(): Promise<N8nUserFolder> {
		const tarball = process.env.VIPPS_E2E_TARBALL;
		if (!tarball) {
			throw new Error('VIPPS_E2E_TARBALL is not set: run these tests with `npm run test:e2e`, whose globalSetup packs the package');
		}
		const folder = await kit.createUserFolder({ tarball });
		try {
			return new N8nUserFolder(folder, await kit.n8nEnv({ userFolder: folder.userFolder }));
		} catch (error) {
			folder.remove();
			throw error;
		}
	}

	async importCredentials(credentials: CredentialToImport[]): Promise<ImportedCredential[]> {
		return await kit.importCredentials(this.env, credentials);
	}

	async importWorkflow(workflow: WorkflowToImport): Promise<string> {
		return await kit.importWorkflow(this.env, workflow);
	}

	/** Every stored credential, decrypted: what n8n keeps in its database after the runs. */
	async exportCredentials(): Promise<ImportedCredential[]> {
		return await kit.exportCredentials(this.env);
	}

	/**
	 * `n8n execute --id=…`: a process of its own, finished (and its process group killed) when this
	 * resolves. `extraEnv` configures n8n for this run only (e.g. N8N_SSRF_PROTECTION_ENABLED).
	 */
	async execute(workflowId: string, extraEnv: N8nEnv = {}): Promise<ExecuteResult> {
		const result = await kit.executeWorkflow({ ...this.env, ...extraEnv }, workflowId);
		this.lastLogTail = result.logTail;
		return result;
	}

	/** Where n8n's installer put the package: nodes/node_modules/<name> in the user folder. */
	get packageDir(): string {
		return this.folder.packageDir!;
	}

	get logTail(): string {
		return this.lastLogTail;
	}

	remove(): void {
		this.folder.remove();
	}
}

/**
 * What most end-to-end files start from, set up before their tests and removed after them: the
 * simulator, a fresh n8n user folder with the packed package installed, and the credential a
 * user creates for the simulator (environment "Custom Base URL") imported into it. Also the
 * file's `itN8n`, which shows n8n's log when a test fails.
 */
export function useSimulatorAndN8n() {
	const stack = {} as { simulator: VippsSimulator; n8n: N8nUserFolder; credential: ImportedCredential };
	beforeAll(async () => {
		const simulator = await startSimulator();
		const n8n = await N8nUserFolder.create();
		const { id: _harnessId, ...simulatorKeys } = simulatorCredential(simulator);
		const [credential] = await n8n.importCredentials([{ ...simulatorKeys, name: 'Vipps MobilePay API (simulator)' }]);
		Object.assign(stack, { simulator, n8n, credential });
	}, E2E_TIMEOUT_MS);
	afterAll(async () => {
		stack.n8n?.remove();
		await stack.simulator?.close();
	});
	return { stack, itN8n: itWithN8nLog(() => stack.n8n?.logTail) };
}

/**
 * `it`, but a failure message ends with n8n's log tail (`log()` at the time of failure): a
 * red run in CI then shows what n8n said, not only which expectation broke.
 */
export function itWithN8nLog(log: () => string | undefined) {
	return (name: string, fn: () => Promise<void>, timeout = E2E_TIMEOUT_MS) =>
		it(
			name,
			async () => {
				try {
					await fn();
				} catch (error) {
					const tail = log();
					if (tail && error instanceof Error) error.message += `\n\n--- n8n log (last lines) ---\n${shortLines(tail)}`;
					throw error;
				}
			},
			timeout,
		);
}

/** `n8n execute` logs the whole run data as one line: keep the log readable. */
function shortLines(text: string, max = 800): string {
	return text
		.split('\n')
		.map((line) => (line.length > max ? `${line.slice(0, max)} … (${line.length - max} more characters)` : line))
		.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Example workflows

export type WorkflowJson = WorkflowToImport & { nodes: INode[]; connections: IConnections };

export const PLACEHOLDER_ID = 'REPLACE_ME';

export function loadExample(file: string): WorkflowJson {
	return JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'examples', file), 'utf8')) as WorkflowJson;
}

/** What a user does after importing an example: every credential placeholder replaced by their own credential of that type. */
export function withCredentials(workflow: WorkflowJson, credentials: ImportedCredential[]): WorkflowJson {
	const nodes = workflow.nodes.map((node) => {
		if (!node.credentials) return node;
		const picked = Object.entries(node.credentials).map(([type, reference]) => {
			if (reference.id !== PLACEHOLDER_ID) throw new Error(`${node.name}: expected the ${PLACEHOLDER_ID} placeholder for ${type}, found ${reference.id}`);
			const credential = credentials.find((candidate) => candidate.type === type);
			if (!credential) throw new Error(`${node.name} needs a ${type} credential; the test imported none`);
			return [type, { id: credential.id, name: credential.name }];
		});
		return { ...node, credentials: Object.fromEntries(picked) as INode['credentials'] };
	});
	return { ...workflow, nodes };
}

/** Triggers that fire from outside (a form post, a webhook call, the clock, a chat message). */
const EXTERNAL_TRIGGERS = [
	'n8n-nodes-base.formTrigger',
	'n8n-nodes-base.webhook',
	'n8n-nodes-base.scheduleTrigger',
	'@n8n/n8n-nodes-langchain.chatTrigger',
];

export const HEADLESS_START = 'Start (headless test run)';

/**
 * A copy of `workflow` that `n8n execute` can run. The CLI starts a workflow only at a Manual
 * Trigger (or Execute Workflow Trigger): Form, Webhook, Schedule and Chat triggers wait for a
 * request or the clock, which a headless run never gets. So the external trigger becomes a Set
 * node of the SAME name emitting `item` — the item that trigger emits, in its shape — started by a
 * Manual Trigger. Every other node, connection and expression (`$json…`, `$('Trigger')…`) is
 * exactly as in the example.
 */
export function headlessCopy(workflow: WorkflowJson, item: IDataObject): WorkflowJson {
	const triggers = workflow.nodes.filter((node) => EXTERNAL_TRIGGERS.includes(node.type));
	if (triggers.length !== 1) throw new Error(`${workflow.name}: expected one external trigger, found ${triggers.length}`);
	const [trigger] = triggers;
	const standIn: INode = {
		id: trigger.id,
		name: trigger.name,
		type: 'n8n-nodes-base.set',
		typeVersion: 3.5,
		position: trigger.position,
		parameters: { mode: 'raw', jsonOutput: JSON.stringify(item, null, 2), options: {} },
	};
	const start: INode = {
		id: randomUUID(),
		name: HEADLESS_START,
		type: 'n8n-nodes-base.manualTrigger',
		typeVersion: 1,
		position: [trigger.position[0] - 240, trigger.position[1]],
		parameters: {},
	};
	return {
		...workflow,
		name: `${workflow.name} (headless test copy)`,
		nodes: [start, ...workflow.nodes.map((node) => (node === trigger ? standIn : node))],
		connections: { ...workflow.connections, [HEADLESS_START]: { main: [[{ node: trigger.name, type: 'main', index: 0 }]] } },
	};
}

// ---------------------------------------------------------------------------------------------
// Workflows built by a test

export const CUSTOMER_LIST = 'Customer list';
export const ONE_ITEM_PER_CUSTOMER = 'One item per customer';

export interface VippsNodeSettings {
	name: string;
	/** Settings → On Error; n8n's default is stopWorkflow. */
	onError?: INode['onError'];
	/** The node's Options collection (concurrency, timeout, …). */
	options?: IDataObject;
}

/**
 * Manual Trigger → a Set node holding `customers` ({ phone, member }) → Split Out → each Vipps
 * Check-in node of `vippsNodes`, all fed every customer and mapping `phone` and `member` by
 * expressions. n8n runs sibling nodes top to bottom: they are placed in the order given.
 */
export function customerListWorkflow(
	name: string,
	customers: IDataObject[],
	vippsNodes: VippsNodeSettings[],
	credential: ImportedCredential,
): WorkflowJson {
	const start = 'Start';
	const nodes: INode[] = [
		{ id: randomUUID(), name: start, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{
			id: randomUUID(),
			name: CUSTOMER_LIST,
			type: 'n8n-nodes-base.set',
			typeVersion: 3.4,
			position: [240, 0],
			parameters: { mode: 'raw', jsonOutput: JSON.stringify({ customers }), options: {} },
		},
		{
			id: randomUUID(),
			name: ONE_ITEM_PER_CUSTOMER,
			type: 'n8n-nodes-base.splitOut',
			typeVersion: 1,
			position: [480, 0],
			parameters: { fieldToSplitOut: 'customers', options: {} },
		},
		...vippsNodes.map(
			({ name: nodeName, onError, options = {} }, index): INode => ({
				id: randomUUID(),
				name: nodeName,
				type: VIPPS_NODE_TYPE,
				typeVersion: 1,
				position: [720, index * 200],
				parameters: { resource: 'checkIn', operation: 'send', phoneNumber: '={{ $json.phone }}', isMember: '={{ $json.member }}', options } as INodeParameters,
				credentials: { vippsMobilePayApi: { id: credential.id, name: credential.name } },
				...(onError ? { onError } : {}),
			}),
		),
	];
	return {
		name,
		nodes,
		connections: {
			[start]: { main: [[{ node: CUSTOMER_LIST, type: 'main', index: 0 }]] },
			[CUSTOMER_LIST]: { main: [[{ node: ONE_ITEM_PER_CUSTOMER, type: 'main', index: 0 }]] },
			[ONE_ITEM_PER_CUSTOMER]: { main: [vippsNodes.map(({ name: nodeName }) => ({ node: nodeName, type: 'main' as const, index: 0 }))] },
		},
		settings: { executionOrder: 'v1' },
	};
}

/** `count` customers with distinct valid Norwegian mobile numbers (4xxxxxxx and 9xxxxxxx are mobile). */
export function manyCustomers(count: number): Array<{ phone: string; member: boolean }> {
	return Array.from({ length: count }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: i % 2 === 0 }));
}

// ---------------------------------------------------------------------------------------------
// Run data

/** The items `node` emitted on `output` in its last run (main connection unless `connection` says otherwise). */
export function itemsOf(result: ExecuteResult, node: string, output = 0, connection = 'main'): INodeExecutionData[] {
	const runs = result.runData?.[node];
	if (!runs?.length) throw new Error(`"${node}" did not run; nodes that ran: ${Object.keys(result.runData ?? {}).join(', ')}`);
	return runs.at(-1)!.data?.[connection]?.[output] ?? [];
}

export const jsonOf = (items: INodeExecutionData[]) => items.map((item) => item.json);

/** Every Vipps request carries the platform (n8n and its version) and the plugin (this package) headers. */
export function expectVippsSystemHeaders(requests: readonly RecordedRequest[], n8nWorkflowVersion: string): void {
	expect(requests.length).toBeGreaterThan(0);
	for (const request of requests) {
		expect({ path: request.path, headers: request.headers }).toMatchObject({
			path: request.path,
			headers: {
				'vipps-system-name': 'n8n',
				'vipps-system-version': n8nWorkflowVersion,
				'vipps-system-plugin-name': PACKAGE_NAME,
				'vipps-system-plugin-version': PACKAGE_VERSION,
			},
		});
	}
}

// ---------------------------------------------------------------------------------------------
// Published workflows in a running n8n (`n8n start`)

/**
 * Saves `workflow` in the running n8n, publishes it, and resolves once its production webhook at
 * `path` is registered (n8n 2.41 publishes through an outbox, after the answer): a GET, which runs
 * nothing, then answers that the path takes another method instead of 404.
 */
export async function publishWorkflow(url: string, rest: RestClient, workflow: WorkflowJson, path: string): Promise<void> {
	const saved = await rest.post<{ id: string; versionId: string }>('/workflows', { ...workflow, active: false });
	await rest.post(`/workflows/${saved.id}/activate`, { versionId: saved.versionId });
	const deadline = Date.now() + 60_000;
	for (;;) {
		const probe = await fetch(`${url}/webhook/${path}`);
		const text = await probe.text();
		if (probe.status !== 404 || /POST request/.test(text)) return;
		if (Date.now() > deadline) throw new Error(`the production webhook ${path} never got registered: ${text}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}
