/** Builds the workflows the tests run: pinned input items (as a trigger produced them) → Vipps Check-in. */
import type { IDataObject, INode, INodeParameters } from 'n8n-workflow';

import type { HarnessCredential, WorkflowJson, WorkflowRun } from '../../harness/runWorkflow';
import { randomUUID } from 'node:crypto';

import { VippsSimulator, type SimulatorOptions } from '../../simulator/VippsSimulator';

export const VIPPS_NODE_TYPE = 'n8n-nodes-vipps-checkin.vippsCheckIn';
export const VIPPS_NODE = 'Vipps Check-in';
export const INPUT_NODE = 'Form Submissions';
export const CREDENTIAL_ID = 'cred-1';

/**
 * A simulator with keys of its own: the node's token cache lives for the whole test file (as it
 * does for an n8n process), so a simulator that reuses a port must not inherit another's token.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<VippsSimulator> {
	return await VippsSimulator.start({
		keys: { clientId: randomUUID(), clientSecret: `secret-${randomUUID()}`, subscriptionKey: `key-${randomUUID()}` },
		...options,
	});
}

export function simulatorCredential(simulator: VippsSimulator, overrides: IDataObject = {}): HarnessCredential {
	return {
		id: CREDENTIAL_ID,
		name: 'Vipps simulator',
		type: 'vippsMobilePayApi',
		data: { ...simulator.credentialData(), ...overrides },
	};
}

export interface CheckInWorkflowOptions {
	items: IDataObject[];
	parameters?: IDataObject;
	options?: IDataObject;
	continueOnFail?: boolean;
	/** The node's Settings → On Error; `continueOnFail` is short for 'continueRegularOutput'. */
	onError?: INode['onError'];
}

/** Input items → Vipps Check-in, mapping `phone` and `member` by expressions, as a user would. */
export function checkInWorkflow({ items, parameters = {}, options = {}, continueOnFail = false, onError }: CheckInWorkflowOptions): WorkflowJson {
	const vipps: INode = {
		id: 'vipps',
		name: VIPPS_NODE,
		type: VIPPS_NODE_TYPE,
		typeVersion: 1,
		position: [220, 0],
		parameters: {
			resource: 'checkIn',
			operation: 'send',
			phoneNumber: '={{ $json.phone }}',
			isMember: '={{ $json.member }}',
			options,
			...parameters,
		} as INodeParameters,
		credentials: { vippsMobilePayApi: { id: CREDENTIAL_ID, name: 'Vipps simulator' } },
		...(continueOnFail ? { onError: 'continueRegularOutput' as const } : onError ? { onError } : {}),
	};
	return {
		name: 'check-in test',
		nodes: [
			{ id: 'input', name: INPUT_NODE, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			vipps,
		],
		connections: { [INPUT_NODE]: { main: [[{ node: VIPPS_NODE, type: 'main', index: 0 }]] } },
		pinData: { [INPUT_NODE]: items.map((json) => ({ json })) },
	};
}

/** Everything the run produced, as text: what a user could see or an execution log could keep. */
export function everythingVisible(run: WorkflowRun): string {
	const error = run.error as (Error & { description?: string; context?: unknown; cause?: unknown }) | undefined;
	return JSON.stringify({
		runData: run.run.data.resultData.runData,
		error: error && { message: error.message, description: error.description, stack: error.stack, context: error.context, cause: error.cause },
	});
}

export function secretsOf(simulator: VippsSimulator): string[] {
	return [simulator.keys.clientSecret, simulator.keys.subscriptionKey];
}
