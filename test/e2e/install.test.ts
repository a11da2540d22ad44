/**
 * The README's install route, followed as a user follows it. The commands are read from the
 * README's own fenced blocks (marked `<!-- install-test: pack -->` and `<!-- install-test: install -->`)
 * and run as written, so when the README changes, this test runs the new commands:
 *
 * - "Build the tarball" in a copy of this working tree, with this machine's Node. Only `npm ci` is
 *   not run: the copy gets this checkout's node_modules, which `npm ci` installed from the same
 *   lockfile.
 * - "Install it where n8n runs" in a fresh HOME (nothing outside it is touched), with n8n's own
 *   Node 24 first on PATH, `/path/to/` standing for the folder the tarball was written to.
 * - "then restart n8n": real n8n 2.41.1 on that HOME's `.n8n` imports a credential for the local
 *   simulator and a workflow with the node, and runs it with `n8n execute`.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { DEFAULT_SIMULATOR_KEYS, PATHS, SIMULATOR_MERCHANT_SERIAL_NUMBER, VippsSimulator } from '../../simulator/VippsSimulator';
import { simulatorCredential, startSimulator } from '../workflow/fixtures';
import { kit, type UserFolder } from './kit';
import {
	CHECK_IN_ID,
	CUSTOMER_LIST,
	E2E_TIMEOUT_MS,
	PACKAGE_NAME,
	PACKAGE_VERSION,
	REPOSITORY_ROOT,
	customerListWorkflow,
	itWithN8nLog,
	itemsOf,
	jsonOf,
} from './support';

const { cleanEnv } = require('../../scripts/real-n8n/install') as { cleanEnv(nodeBinDir?: string): Record<string, string> };
const { run } = require('../../scripts/real-n8n/proc') as {
	run(cmd: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
};

/** The commands of the README's fenced block marked `<!-- install-test: <name> -->`, one per line. */
function readmeCommands(name: string): string[] {
	const readme = readFileSync(join(REPOSITORY_ROOT, 'README.md'), 'utf8');
	const block = new RegExp(`<!-- install-test: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
	if (!block) throw new Error(`README.md has no \`\`\`sh block marked <!-- install-test: ${name} -->`);
	return block[1].split('\n').map((line) => line.trim()).filter(Boolean);
}

/** The files of this working tree a clone would hold (tracked or new, not ignored), as they are now. */
async function copyOfWorkingTree(destination: string): Promise<void> {
	const { code, stdout, stderr } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
		cwd: REPOSITORY_ROOT,
		env: cleanEnv(),
	});
	if (code !== 0) throw new Error(`git ls-files failed: ${stderr}`);
	for (const file of stdout.split('\0').filter(Boolean)) {
		const source = join(REPOSITORY_ROOT, file);
		if (!existsSync(source)) continue; // deleted in the working tree, not yet committed
		mkdirSync(dirname(join(destination, file)), { recursive: true });
		cpSync(source, join(destination, file));
	}
}

/** Runs `commands` as one bash script (stopping at the first failure) and returns its output. */
async function runCommands(commands: string[], cwd: string, env: Record<string, string>): Promise<string> {
	const script = commands.join('\n');
	const { code, stdout, stderr } = await run('bash', ['-e', '-u', '-c', script], { cwd, env, timeoutMs: 10 * 60_000 });
	const output = `${stdout}${stderr}`;
	if (code !== 0) throw new Error(`The README's commands failed (exit ${code}):\n${script}\n--- output ---\n${output}`);
	return output;
}

describe("the README's install route, in real n8n", () => {
	const workspace = mkdtempSync(join(tmpdir(), 'vipps-readme-install-'));
	const clone = join(workspace, 'clone');
	let home: UserFolder;
	let simulator: VippsSimulator;
	let lastLog: string | undefined;
	const itN8n = itWithN8nLog(() => lastLog);

	beforeAll(async () => {
		simulator = await startSimulator();
		// A fresh user folder as n8n leaves it after its first start: `.n8n/config` with its encryption key.
		home = await kit.createUserFolder();
	}, E2E_TIMEOUT_MS);

	afterAll(async () => {
		home?.remove();
		rmSync(workspace, { recursive: true, force: true });
		await simulator?.close();
	});

	itN8n('builds and packs the package with the README\'s commands, in a copy of the working tree', async () => {
		const commands = readmeCommands('pack');
		expect(commands).toContain('npm pack');
		await copyOfWorkingTree(clone);
		symlinkSync(join(REPOSITORY_ROOT, 'node_modules'), join(clone, 'node_modules'));
		rmSync(join(clone, 'dist'), { recursive: true, force: true });

		// HOME and npm's cache inside the workspace: the build touches nothing of this machine's.
		const env: Record<string, string> = { ...cleanEnv(), HOME: join(workspace, 'home'), npm_config_cache: join(workspace, 'npm-cache') };
		await runCommands(commands.filter((command) => command !== 'npm ci'), clone, env);

		// What the README says `npm pack` writes.
		expect(readdirSync(clone).filter((file) => file.endsWith('.tgz'))).toEqual([`${PACKAGE_NAME}-${PACKAGE_VERSION}.tgz`]);
	}, E2E_TIMEOUT_MS);

	itN8n("installs the tarball into ~/.n8n/nodes with the README's commands, without a second n8n-workflow", async () => {
		const commands = readmeCommands('install').map((command) => command.replaceAll('/path/to/', `${clone}/`));
		const { nodeBin } = await kit.ensureN8n();
		// Where n8n runs: its Node first on PATH, and HOME the fresh user folder (so `~` is inside it).
		const env: Record<string, string> = { ...cleanEnv(dirname(nodeBin)), HOME: home.userFolder, npm_config_cache: join(workspace, 'npm-cache') };
		for (const key of Object.keys(env)) if (/^N8N_/.test(key)) delete env[key];

		await runCommands(commands, workspace, env);

		const nodeModules = join(home.userFolder, '.n8n', 'nodes', 'node_modules');
		const installed = JSON.parse(readFileSync(join(nodeModules, PACKAGE_NAME, 'package.json'), 'utf8')) as { name: string; version: string };
		expect({ name: installed.name, version: installed.version }).toEqual({ name: PACKAGE_NAME, version: PACKAGE_VERSION });
		// n8n provides n8n-workflow; a copy here would be the one the node loads instead.
		expect(existsSync(join(nodeModules, 'n8n-workflow'))).toBe(false);
	}, E2E_TIMEOUT_MS);

	itN8n('then n8n, started on that folder, loads the node and a workflow with it checks customers in at the simulator', async () => {
		const env = await kit.n8nEnv({ userFolder: home.userFolder });
		const { id: _harnessId, ...keys } = simulatorCredential(simulator);
		const [credential] = await kit.importCredentials(env, [{ ...keys, name: 'Vipps MobilePay API (simulator)' }]);
		const customers = [
			{ phone: '+47 912 34 567', member: true },
			{ phone: '0047 98765432', member: 'no' },
		];
		const workflowId = await kit.importWorkflow(env, customerListWorkflow('Installed from the README', customers, [{ name: 'Vipps Check-in' }], credential));

		const result = await kit.executeWorkflow(env, workflowId);
		lastLog = result.logTail;

		expect(result.error).toBeNull();
		expect(jsonOf(itemsOf(result, CUSTOMER_LIST))).toHaveLength(1);
		expect(jsonOf(itemsOf(result, 'Vipps Check-in'))).toEqual([
			expect.objectContaining({ checkInId: expect.stringMatching(CHECK_IN_ID), phoneNumber: '4791234567', isMember: true }),
			expect.objectContaining({ checkInId: expect.stringMatching(CHECK_IN_ID), phoneNumber: '4798765432', isMember: false }),
		]);
		expect(
			simulator
				.checkInRequests()
				.map((request) => request.body)
				.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
		).toEqual([
			{ phoneNumber: '4791234567', isMember: true },
			{ phoneNumber: '4798765432', isMember: false },
		]);
		expect(simulator.requests.map((request) => request.path)).toContain(PATHS.accessToken);
	});
});

describe("the README's keyless path into the user's own n8n", () => {
	const readme = readFileSync(join(REPOSITORY_ROOT, 'README.md'), 'utf8');

	it('starts the simulator on a fixed port and gives the address, keys and MSN it answers to', async () => {
		expect(readme).toContain('npm run simulator -- --port 8080');
		const { clientId, clientSecret, subscriptionKey } = DEFAULT_SIMULATOR_KEYS;
		for (const value of ['http://127.0.0.1:8080', clientId, clientSecret, subscriptionKey, SIMULATOR_MERCHANT_SERIAL_NUMBER]) {
			expect(readme).toContain(`\`${value}\``);
		}
		// What `--port 8080` starts: the simulator on that port of 127.0.0.1, with those keys.
		const simulator = await VippsSimulator.start({ port: 0 });
		try {
			expect(simulator.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
			expect(simulator.credentialData()).toMatchObject({ clientId, clientSecret, subscriptionKey, merchantSerialNumber: SIMULATOR_MERCHANT_SERIAL_NUMBER });
		} finally {
			await simulator.close();
		}
	});

	it('names N8N_UNVERIFIED_PACKAGES_ENABLED and what building the tarball costs', () => {
		expect(readme).toContain('N8N_UNVERIFIED_PACKAGES_ENABLED=true');
		expect(readme).toMatch(/`npm ci` takes\s+about 3 minutes and 1\.4 GB/);
		expect(readme).toContain('EBADENGINE');
	});
});
