/**
 * The credential's Test button, in-process: n8n (CredentialsTester.runRequestTest in n8n's CLI)
 * wraps the credential type's declarative `test.request` in a throwaway node whose only property
 * routes that request, runs it through n8n-core's RoutingNode — expressions resolved against the
 * credential, the request sent by n8n's own HTTP helper — and maps a failed status through the
 * credential's `test.rules`. Before sending, n8n's CredentialsHelper.authenticate runs the credential
 * type's `authenticate` function on the request; an error there is the test's message and nothing
 * is sent. This does the same with n8n-core, so the request the user's Test
 * button sends, and the words it shows, are tested before they reach real n8n (test/e2e does that).
 */
import type { ICredentialDataDecryptedObject, INodeCredentialTestResult, INodeType } from 'n8n-workflow';

import { loadPackage, registerNodeType, runWorkflow } from './runWorkflow';

const PROBE_TYPE = 'credentialTestProbe';

export async function pressCredentialTest(credentialType: string, data: ICredentialDataDecryptedObject): Promise<INodeCredentialTestResult> {
	const credential = loadPackage().credentialTypes.get(credentialType);
	if (!credential?.test) throw new Error(`The credential type ${credentialType} has no declarative test`);
	const probe: INodeType = {
		description: {
			displayName: 'Temp',
			name: PROBE_TYPE,
			group: ['transform'],
			version: 1,
			description: 'n8n runs a credential test as a node like this',
			defaults: { name: 'Temp-Node' },
			inputs: ['main'],
			outputs: ['main'],
			credentials: [{ name: credentialType, required: true }],
			properties: [{ displayName: 'Temp', name: 'temp', type: 'string', default: '', routing: { request: credential.test.request } }],
		},
	};
	if (typeof credential.authenticate === 'function') {
		try {
			await credential.authenticate(data, { url: '' });
		} catch (error) {
			return { status: 'Error', message: (error as Error).message };
		}
	}
	registerNodeType(PROBE_TYPE, probe);
	const run = await runWorkflow(
		{
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'temp',
					name: 'Temp-Node',
					type: PROBE_TYPE,
					typeVersion: 1,
					position: [200, 0],
					parameters: {},
					credentials: { [credentialType]: { id: 'tested', name: 'tested' } },
				},
			],
			connections: { Start: { main: [[{ node: 'Temp-Node', type: 'main', index: 0 }]] } },
		},
		{ credentials: [{ id: 'tested', name: 'tested', type: credentialType, data }] },
	);
	if (!run.error) return { status: 'OK', message: 'Connection successful!' };
	// As n8n does: the rule for the status, else the status text, else the error's code or message.
	const error = run.error as Error & { httpCode?: string; cause?: { response?: { status?: number; statusText?: string }; code?: string } };
	const status = error.cause?.response?.status ?? (Number(error.httpCode) || undefined);
	if (status !== undefined) {
		const rule = credential.test.rules?.find((r) => r.type === 'responseCode' && r.properties.value === status);
		return { status: 'Error', message: rule?.properties.message ?? (error.cause?.response?.statusText || `Received HTTP status code: ${status}`) };
	}
	return { status: 'Error', message: error.cause?.code ?? error.message };
}
