/**
 * The credential's "Test" button: the credential type's declarative request, run as n8n runs it
 * (harness/credentialTest.ts: n8n-core's RoutingNode, n8n's HTTP helper) against the simulator.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { IDataObject, INodeCredentialTestResult } from 'n8n-workflow';

import { pressCredentialTest } from '../../harness/credentialTest';

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
	return await pressCredentialTest('vippsMobilePayApi', simulatorCredential(simulator, overrides).data);
}

describe('the credential Test button', () => {
	it('succeeds with good keys: Vipps issued a token for them', async () => {
		const before = simulator.tokenRequests().length;
		await expect(pressTest({})).resolves.toEqual({ status: 'OK', message: 'Connection successful!' });
		const [request] = simulator.tokenRequests().slice(before);
		expect(request.status).toBe(200);
		expect(request.headers).toMatchObject({
			'vipps-system-name': 'n8n',
			'vipps-system-plugin-name': 'n8n-nodes-vipps-checkin',
			'vipps-system-version': expect.stringMatching(/^\d+\.\d+/),
		});
	});

	it.each([
		['an unknown Client ID', { clientId: 'not-a-known-client' }],
		['a wrong Client Secret', { clientSecret: 'wrong-secret-1234' }],
		['a wrong Subscription Key', { subscriptionKey: 'wrong-key-1234' }],
	])('explains %s: which keys to check and where, without echoing any secret', async (_, overrides) => {
		const result = await pressTest(overrides);
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(/^Vipps rejected the keys \(401\)\. Client ID, Client Secret and Subscription Key must all come from the same sales unit/);
		expect(result.message).toContain('test keys only work with Test (MT)');
		for (const secret of [simulator.keys.clientSecret, simulator.keys.subscriptionKey, ...Object.values(overrides)]) {
			if (/secret|key/i.test(String(secret))) expect(result.message).not.toContain(secret);
		}
	});

	it('explains an address where something other than a Vipps API answers', async () => {
		// Any web server that is not a Vipps API: 404 for everything.
		const other = createServer((_, res) => res.writeHead(404).end());
		await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
		const result = await pressTest({ customBaseUrl: `http://127.0.0.1:${(other.address() as AddressInfo).port}` });
		await new Promise((resolve) => other.close(resolve));
		expect(result).toEqual({
			status: 'Error',
			message: 'Nothing at this address answers /accesstoken/get (404): check Environment, or give Custom Base URL without a path.',
		});
	});

	it.each(['/a?b', '/some/path', '/#fragment', '?x='])('refuses a Custom Base URL with %s with the message the node gives, and sends nothing', async (tail) => {
		const before = simulator.tokenRequests().length;
		const result = await pressTest({ customBaseUrl: `${simulator.baseUrl}${tail}` });
		expect(result).toEqual({
			status: 'Error',
			message: `The Vipps MobilePay API credential is not valid: Custom Base URL must be scheme, host and port only (e.g. ${simulator.baseUrl}), without a path, query or fragment`,
		});
		expect(simulator.tokenRequests()).toHaveLength(before);
	});

	it('refuses http://host/a?b, sending nothing', async () => {
		const result = await pressTest({ customBaseUrl: 'http://host/a?b' });
		expect(result.message).toBe('The Vipps MobilePay API credential is not valid: Custom Base URL must be scheme, host and port only (e.g. http://host), without a path, query or fragment');
	});

	it('says when nothing answers at all', async () => {
		// Port 1 (tcpmux): nothing listens there.
		const result = await pressTest({ customBaseUrl: 'http://127.0.0.1:1' });
		expect(result.status).toBe('Error');
		expect(result.message).toMatch(/ECONNREFUSED|refused/);
	});

	it('fails at once for a host that does not exist, naming the DNS failure', async () => {
		const result = await pressTest({ customBaseUrl: 'http://vipps-simulator.invalid:8080' });
		// n8n's own words for it (the code ENOTFOUND, or its sentence about an incorrect host).
		expect(result).toEqual({ status: 'Error', message: expect.stringMatching(/ENOTFOUND|incorrect host/) });
	});
});
