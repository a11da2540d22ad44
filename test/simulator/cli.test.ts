/** The simulator's command line (the built dist/simulator/cli.js, as `npm run simulator` runs it). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';

import { DEFAULT_SIMULATOR_KEYS, PATHS } from '../../simulator/VippsSimulator';

const CLI = join(__dirname, '..', '..', 'dist', 'simulator', 'cli.js');

let cli: ChildProcess | undefined;

afterEach(async () => {
	if (cli && cli.exitCode === null) {
		const exited = new Promise((resolve) => cli!.once('exit', resolve));
		cli.kill('SIGTERM');
		await exited;
	}
	cli = undefined;
});

/** Starts the CLI and resolves with its banner once it has printed the whole of it. */
function startCli(args: string[]): Promise<string> {
	cli = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
	return new Promise((resolve, reject) => {
		let output = '';
		cli!.stdout!.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			if (output.includes('Press Ctrl+C')) resolve(output);
		});
		cli!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
		cli!.once('exit', (code) => reject(new Error(`the simulator exited with ${code}: ${output}`)));
	});
}

const tokenHeaders = {
	client_id: DEFAULT_SIMULATOR_KEYS.clientId,
	client_secret: DEFAULT_SIMULATOR_KEYS.clientSecret,
	'Ocp-Apim-Subscription-Key': DEFAULT_SIMULATOR_KEYS.subscriptionKey,
};

test('--https --rps --window fixed: serves TLS with a certificate it names, behind a fixed-window gateway', async () => {
	const banner = await startCli(['--https', '--rps', '1', '--window', 'fixed']);
	const baseUrl = /listening on (https:\/\/\S+)/.exec(banner)?.[1];
	const certPath = /NODE_EXTRA_CA_CERTS=(\S+)/.exec(banner)?.[1];
	expect(banner).toContain('1 requests/s, fixed one-second window');
	expect(baseUrl).toBeDefined();
	expect(certPath && existsSync(certPath)).toBe(true);

	const client = new Agent({ connect: { ca: readFileSync(certPath!, 'utf8') } });
	try {
		// Five at once: a window admits one, so all five would have to reach the gateway in five
		// different seconds to be let through (one after another, a slow machine could space three).
		const answers = await Promise.all(
			Array.from({ length: 5 }, async () => {
				const response = await request(`${baseUrl}${PATHS.accessToken}`, { method: 'POST', headers: tokenHeaders, dispatcher: client });
				await response.body.dump();
				return { status: response.statusCode, retryAfter: response.headers['retry-after'] };
			}),
		);
		expect(answers).toContainEqual({ status: 200, retryAfter: undefined });
		expect(answers).toContainEqual({ status: 429, retryAfter: '1' });
	} finally {
		await client.close();
	}
	const exited = new Promise((resolve) => cli!.once('exit', resolve));
	cli!.kill('SIGTERM');
	await exited;
	expect(existsSync(certPath!)).toBe(false);
});

test('--window without --rps is refused with the usage line', async () => {
	await expect(startCli(['--window', 'fixed'])).rejects.toThrow(/--window needs --rps[\s\S]*Usage/);
});

test('an unknown --window is refused', async () => {
	await expect(startCli(['--rps', '5', '--window', 'leaky'])).rejects.toThrow(/--window is 'sliding' or 'fixed'/);
});
