/**
 * The credential's "Test" button: n8n calls the node's credentialTest method with the decrypted
 * credential. Called here on the built node, exactly as n8n loads it.
 */
import type { ICredentialTestFunctions, IDataObject, INodeCredentialTestResult, INodeType } from 'n8n-workflow';

import { loadPackage } from '../../harness/runWorkflow';
import type { VippsSimulator } from '../../simulator/VippsSimulator';
import { simulatorCredential, startSimulator } from './fixtures';

let simulator: VippsSimulator;

beforeAll(async () => {
	simulator = await startSimulator();
});

afterAll(async () => {
	await simulator.close();
});

async function pressTest(overrides: IDataObject): Promise<INodeCredentialTestResult> {
	const node = loadPackage().nodeTypes.get('n8n-nodes-vipps-checkin.vippsCheckIn') as INodeType;
	const credentialTest = node.methods!.credentialTest!.vippsMobilePayApiTest;
	const { data } = simulatorCredential(simulator, overrides);
	return await credentialTest.call({} as ICredentialTestFunctions, {
		id: 'c',
		name: 'Vipps',
		type: 'vippsMobilePayApi',
		data,
	});
}

describe('the credential Test button', () => {
	it('succeeds with good keys and says how long the token lasts', async () => {
		await expect(pressTest({})).resolves.toEqual({
			status: 'OK',
			message: 'Connection tested: Vipps issued an access token valid for 1 hour',
		});
	});

	it.each([
		['an unknown Client ID', { clientId: 'not-a-known-client' }, /^Vipps does not know this Client ID\. Check the credential's Client ID/],
		['a wrong Client Secret', { clientSecret: 'wrong-secret-1234' }, /^Vipps rejected the Client Secret\./],
		['a wrong Subscription Key', { subscriptionKey: 'wrong-key-1234' }, /^Vipps rejected the Subscription Key \(Ocp-Apim-Subscription-Key\)\./],
		['a Client Secret with a line break', { clientSecret: 'abc\r\nX-Evil: 1' }, /Client Secret contains a line break/],
		['a Vipps-System-Name over 30 characters', { systemName: 'n'.repeat(31) }, /System Name is longer than 30 characters/],
		['an MSN with letters', { merchantSerialNumber: '12ab56' }, /Merchant Serial Number must be 4 to 7 digits/],
		['a custom URL that is not http(s)', { customBaseUrl: 'ftp://127.0.0.1' }, /must start with http:\/\/ or https:\/\//],
	])('explains %s, without echoing any secret', async (_, overrides, message) => {
		const result = await pressTest(overrides);
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(message);
		for (const secret of [simulator.keys.clientSecret, simulator.keys.subscriptionKey, ...Object.values(overrides)]) {
			if (/secret|key|Evil/i.test(String(secret))) expect(result.message).not.toContain(secret);
		}
	});

	it('explains an address where no Vipps API answers', async () => {
		const gone = await startSimulator();
		const { baseUrl } = gone;
		await gone.close();
		const result = await pressTest({ customBaseUrl: baseUrl });
		expect(result).toEqual({ status: 'Error', message: expect.stringMatching(/^Could not connect to 127\.0\.0\.1:\d+: the connection was refused/) });
	}, 20_000);
});
