import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

import { PATHS, VippsSimulator } from '../../simulator/VippsSimulator';
import { checkIn, clientTrusting, fetchToken, tokenHeaders } from './helpers';

let simulator: VippsSimulator;

afterEach(() => simulator.close());

describe('HTTPS mode (a self-signed certificate made at start)', () => {
	test('serves the API over TLS to a client that trusts the certificate, and the credential points there', async () => {
		simulator = await VippsSimulator.start({ https: true });

		const token = await fetchToken(simulator);
		const answer = await checkIn(simulator, token);

		expect(simulator.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
		expect(simulator.credentialData().customBaseUrl).toBe(simulator.baseUrl);
		expect(answer.status).toBe(200);
		expect(simulator.checkInRequests().map((recorded) => recorded.status)).toEqual([200]);
	});

	test('a client that does not trust the certificate is refused by TLS, before any request is seen', async () => {
		simulator = await VippsSimulator.start({ https: true });

		await expect(
			request(`${simulator.baseUrl}${PATHS.accessToken}`, { method: 'POST', headers: tokenHeaders(simulator) }),
		).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
		expect(simulator.requests).toHaveLength(0);
	});

	test('the certificate is valid for the names localhost and 127.0.0.1, and no other', async () => {
		simulator = await VippsSimulator.start({ https: true });
		const ca = readFileSync(simulator.caCertPath!, 'utf8');
		const asHost = async (servername: string): Promise<number> => {
			const client = new Agent({ connect: { ca, servername } });
			try {
				const response = await request(`${simulator.baseUrl}${PATHS.accessToken}`, {
					method: 'POST',
					headers: tokenHeaders(simulator),
					dispatcher: client,
				});
				await response.body.dump();
				return response.statusCode;
			} finally {
				await client.close();
			}
		};

		expect(await asHost('localhost')).toBe(200);
		expect(await fetchToken(simulator)).toEqual(expect.any(String)); // by IP (127.0.0.1)
		await expect(asHost('vipps.example')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
	});

	test('the certificate file is a PEM certificate (no key) and is gone after close()', async () => {
		simulator = await VippsSimulator.start({ https: true });
		const certPath = simulator.caCertPath!;
		const pem = readFileSync(certPath, 'utf8');

		expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
		expect(pem).not.toMatch(/PRIVATE KEY/);
		await simulator.close();
		expect(existsSync(certPath)).toBe(false);
	});

	test('plain HTTP is the default and has no certificate', async () => {
		simulator = await VippsSimulator.start();
		expect(simulator.baseUrl).toMatch(/^http:\/\//);
		expect(simulator.caCertPath).toBeUndefined();
		expect(clientTrusting(simulator)).toBeUndefined();
	});
});
