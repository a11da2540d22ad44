/**
 * Runs workflow JSON through n8n's own engine (n8n-core's WorkflowExecute), in this process,
 * with this package's built node and credential types registered under the names n8n gives a
 * community package, and a few of n8n's base nodes for the steps around it. The demo and the
 * workflow tests run through here, so they see what a user's n8n does: expressions resolved
 * from earlier nodes, credentials handed to the node, Continue On Fail, pairedItem.
 */
import 'reflect-metadata';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// n8n-core writes its settings below N8N_USER_FOLDER as soon as it loads: keep that out of ~.
if (!process.env.N8N_USER_FOLDER) {
	const userFolder = mkdtempSync(join(tmpdir(), 'vipps-checkin-n8n-'));
	process.env.N8N_USER_FOLDER = userFolder;
	process.on('exit', () => rmSync(userFolder, { recursive: true, force: true }));
}
// A fixed key: the harness stores no real credential, and n8n-core would otherwise announce a new one.
process.env.N8N_ENCRYPTION_KEY ??= 'vipps-checkin-harness';
// n8n's logger prints every failed node's error; callers read the run's result instead.
// N8N_LOG_LEVEL=info (or debug) brings the lines back when a test needs looking into.
process.env.N8N_LOG_LEVEL ??= 'silent';

import { Container } from '@n8n/di';
import { DataDeduplicationService, ExecutionLifecycleHooks, WorkflowExecute } from 'n8n-core';
import { SSHClientsManager } from 'n8n-core/dist/execution-engine/ssh-clients-manager';
import {
	NodeHelpers,
	Workflow,
	type ICredentialDataDecryptedObject,
	type ICredentialType,
	type IConnections,
	type IDataObject,
	type INode,
	type INodeCredentialsDetails,
	type INodeExecutionData,
	type INodeType,
	type INodeTypes,
	type IPinData,
	type IRun,
	type IVersionedNodeType,
	type IWorkflowBase,
	type IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';

import { InMemoryProcessedData } from './processedData';

// Every execution asks n8n-core for its SSH tunnel manager, a singleton that hangs a process 'exit'
// listener and an interval on the process until n8n stops. No node here opens an SSH tunnel, so stop
// it now: under Jest, where each test file loads its own n8n-core into a shared worker process, those
// two kept every file's whole copy of n8n alive (about 25 MB a file) and the worker too slow to exit.
Container.get(SSHClientsManager).onShutdown();

/** The records n8n keeps in its database for `this.helpers.checkProcessedAndRecord` & co.: they outlive an execution. */
export const processedData = new InMemoryProcessedData();
void DataDeduplicationService.init(processedData);

export const REPOSITORY_ROOT = resolve(__dirname, __dirname.includes(`${join('dist', 'harness')}`) ? '../..' : '..');

interface PackageManifest {
	name: string;
	n8n: { nodes: string[]; credentials: string[] };
}

/** n8n's base nodes that examples and tests use around ours: type name → file in n8n-nodes-base. */
export const BASE_NODES: Record<string, string> = {
	'n8n-nodes-base.manualTrigger': 'ManualTrigger/ManualTrigger.node.js',
	'n8n-nodes-base.set': 'Set/Set.node.js',
	'n8n-nodes-base.if': 'If/If.node.js',
	'n8n-nodes-base.noOp': 'NoOp/NoOp.node.js',
	'n8n-nodes-base.splitOut': 'Transform/SplitOut/SplitOut.node.js',
	'n8n-nodes-base.summarize': 'Transform/Summarize/Summarize.node.js',
	'n8n-nodes-base.webhook': 'Webhook/Webhook.node.js',
	'n8n-nodes-base.formTrigger': 'Form/FormTrigger.node.js',
	'n8n-nodes-base.scheduleTrigger': 'Schedule/ScheduleTrigger.node.js',
	'n8n-nodes-base.stickyNote': 'StickyNote/StickyNote.node.js',
};

function loadClass<T>(file: string): T {
	const exported = require(file) as Record<string, new () => T>;
	const [Class] = Object.values(exported);
	return new Class();
}

/** This package's node and credential, loaded from the built files package.json names. */
export function loadPackage(): { nodeTypes: Map<string, INodeType | IVersionedNodeType>; credentialTypes: Map<string, ICredentialType> } {
	const manifest = require(join(REPOSITORY_ROOT, 'package.json')) as PackageManifest;
	const nodeTypes = new Map<string, INodeType | IVersionedNodeType>();
	for (const file of manifest.n8n.nodes) {
		const node = loadClass<INodeType>(join(REPOSITORY_ROOT, file));
		nodeTypes.set(`${manifest.name}.${node.description.name}`, node);
	}
	const credentialTypes = new Map<string, ICredentialType>();
	for (const file of manifest.n8n.credentials) {
		const credential = loadClass<ICredentialType>(join(REPOSITORY_ROOT, file));
		credentialTypes.set(credential.name, credential);
	}
	return { nodeTypes, credentialTypes };
}

let loaded: ReturnType<typeof loadPackage> | undefined;

function registry(): ReturnType<typeof loadPackage> {
	loaded ??= loadPackage();
	return loaded;
}

/** Adds a node type the harness can run (e.g. a stand-in n8n builds itself, such as its credential-test node). */
export function registerNodeType(name: string, nodeType: INodeType): void {
	registry().nodeTypes.set(name, nodeType);
}

function nodeTypeByName(name: string): INodeType | IVersionedNodeType {
	const { nodeTypes } = registry();
	let nodeType = nodeTypes.get(name);
	if (!nodeType && BASE_NODES[name]) {
		nodeType = loadClass<INodeType | IVersionedNodeType>(require.resolve(`n8n-nodes-base/dist/nodes/${BASE_NODES[name]}`));
		nodeTypes.set(name, nodeType);
	}
	if (!nodeType) throw new Error(`The harness has no node type "${name}"`);
	return nodeType;
}

const nodeTypes: INodeTypes = {
	getByName: (name) => nodeTypeByName(name),
	getByNameAndVersion: (name, version) => NodeHelpers.getVersionedNodeType(nodeTypeByName(name), version),
	getKnownTypes: () => ({}),
};

export interface HarnessCredential {
	id: string;
	name: string;
	type: string;
	data: ICredentialDataDecryptedObject;
}

export interface WorkflowJson {
	name?: string;
	nodes: INode[];
	connections: IConnections;
	pinData?: IPinData;
	settings?: IDataObject;
}

export interface WorkflowRun {
	run: IRun;
	/** The items a node put out on its first output (or its error output, `output = 1`). */
	itemsOf(nodeName: string, output?: number): INodeExecutionData[];
	/** The error that stopped the workflow, if any. */
	error: Error | undefined;
}

function credentialsHelper(credentials: HarnessCredential[]): IWorkflowExecuteAdditionalData['credentialsHelper'] {
	const find = (details: INodeCredentialsDetails, type: string) => {
		const found = credentials.find((c) => c.type === type && (c.id === details.id || c.name === details.name));
		if (!found) throw new Error(`No credential "${details.name}" of type ${type}`);
		return found;
	};
	return {
		// n8n stores credentials encrypted and hands the node a fresh decrypted copy each time.
		getDecrypted: async (_data: unknown, details: INodeCredentialsDetails, type: string) =>
			structuredClone(find(details, type).data),
		getCredentials: async () => {
			throw new Error('not used by this package');
		},
		isCredentialUsableByNode: () => true,
		getParentTypes: () => [],
		authenticate: async (_credentials: unknown, _type: string, options: unknown) => options,
		preAuthentication: async () => undefined,
		runPreAuthentication: async () => undefined,
		updateCredentials: async () => undefined,
		updateCredentialsOauthTokenData: async () => undefined,
		getCredentialsProperties: (type: string) => registry().credentialTypes.get(type)?.properties ?? [],
	} as unknown as IWorkflowExecuteAdditionalData['credentialsHelper'];
}

export interface RunningWorkflow {
	result: Promise<WorkflowRun>;
	/** Cancels the execution, as the Stop button in n8n's editor does. */
	cancel(): void;
}

/** Starts `workflowJson` from its first trigger (or the node named `startNode`). */
export function startWorkflow(
	workflowJson: WorkflowJson,
	options: { credentials: HarnessCredential[]; startNode?: string },
): RunningWorkflow {
	const workflow = new Workflow({
		id: 'harness',
		name: workflowJson.name ?? 'harness',
		nodes: workflowJson.nodes,
		connections: workflowJson.connections,
		active: false,
		nodeTypes,
		staticData: {},
		settings: workflowJson.settings,
		pinData: workflowJson.pinData,
	});
	const workflowData = {
		id: 'harness',
		name: workflowJson.name ?? 'harness',
		nodes: workflowJson.nodes,
		connections: workflowJson.connections,
		active: false,
		settings: workflowJson.settings ?? {},
		createdAt: new Date(),
		updatedAt: new Date(),
	} as unknown as IWorkflowBase;
	const additionalData = {
		hooks: new ExecutionLifecycleHooks('manual', 'harness-execution', workflowData),
		credentialsHelper: credentialsHelper(options.credentials),
		executeWorkflow: async () => {
			throw new Error('sub-workflows are not used here');
		},
		restApiUrl: 'http://localhost:5678/rest',
		instanceBaseUrl: 'http://localhost:5678/',
		formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
		webhookBaseUrl: 'http://localhost:5678/webhook',
		webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
		webhookTestBaseUrl: 'http://localhost:5678/webhook-test',
		currentNodeParameters: undefined,
		executionTimeoutTimestamp: undefined,
		userId: 'harness-user',
		setExecutionStatus: () => undefined,
		variables: {},
	} as unknown as IWorkflowExecuteAdditionalData;

	const startNode = options.startNode
		? workflow.getNode(options.startNode) ?? undefined
		: workflow.getStartNode() ?? undefined;
	const execution = new WorkflowExecute(additionalData, 'manual').run({
		workflow,
		startNode,
		pinData: workflowJson.pinData,
	});
	const result = execution.then((run: IRun) => ({
		run,
		error: run.data.resultData.error as Error | undefined,
		itemsOf(nodeName: string, output = 0) {
			const tasks = run.data.resultData.runData[nodeName];
			if (!tasks?.length) return [];
			return tasks[tasks.length - 1].data?.main?.[output] ?? [];
		},
	}));
	return { result, cancel: () => execution.cancel() };
}

export async function runWorkflow(
	workflowJson: WorkflowJson,
	options: { credentials: HarnessCredential[]; startNode?: string },
): Promise<WorkflowRun> {
	return await startWorkflow(workflowJson, options).result;
}
