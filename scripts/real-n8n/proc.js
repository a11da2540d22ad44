'use strict';

// Child processes for the real-n8n kit. Each child leads its own process group, so the
// whole tree (n8n forks task runners, npm forks node-gyp) is stopped by one PID, and
// nothing outlives the script that started it.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');

const live = new Set();
let hooked = false;

function killGroup(child, signal = 'SIGTERM') {
	// The leader may be gone while its runners are not, so always signal the group.
	try {
		process.kill(-child.pid, signal);
	} catch (error) {
		if (error.code !== 'ESRCH') throw error;
	}
}

function hookExit() {
	if (hooked) return;
	hooked = true;
	process.on('exit', () => {
		for (const child of live) killGroup(child, 'SIGKILL');
	});
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		process.once(signal, () => {
			for (const child of live) killGroup(child, 'SIGKILL');
			// Re-raise so the process still dies the way the signal asks.
			process.kill(process.pid, signal);
		});
	}
}

function track(child) {
	hookExit();
	live.add(child);
	child.once('exit', () => live.delete(child));
	return child;
}

/** Spawn `cmd args` (no shell) in its own process group; the caller owns stdio. */
function spawnGroup(cmd, args, { cwd, env, stdio }) {
	return track(spawn(cmd, args, { cwd, env, stdio, detached: true }));
}

/**
 * Run a command to completion. With `logFile`, stdout and stderr go to that file (npm is
 * loud); otherwise they are collected and returned. A run past `timeoutMs` is killed.
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
function run(cmd, args, { cwd, env, logFile, timeoutMs = 10 * 60_000 } = {}) {
	return new Promise((resolve, reject) => {
		const fd = logFile ? fs.openSync(logFile, 'a') : null;
		const stdio = fd === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd];
		let child;
		try {
			child = spawnGroup(cmd, args, { cwd, env, stdio });
		} finally {
			if (fd !== null) fs.closeSync(fd);
		}
		const out = [];
		const err = [];
		child.stdout?.on('data', (chunk) => out.push(chunk));
		child.stderr?.on('data', (chunk) => err.push(chunk));
		const timer = setTimeout(() => {
			killGroup(child, 'SIGKILL');
			reject(new Error(`${cmd} ${args.join(' ')} timed out after ${timeoutMs} ms`));
		}, timeoutMs);
		child.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		child.once('close', (code, signal) => {
			clearTimeout(timer);
			// Stray grandchildren of a finished command must not linger either.
			killGroup(child, 'SIGKILL');
			resolve({
				code,
				signal,
				stdout: Buffer.concat(out).toString('utf8'),
				stderr: Buffer.concat(err).toString('utf8'),
			});
		});
	});
}

/** The last `lines` lines of a text. */
function tail(text, lines = 40) {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The last `lines` lines of a file ('' when it does not exist). */
function tailFile(file, lines = 40) {
	return fs.existsSync(file) ? tail(fs.readFileSync(file, 'utf8'), lines) : '';
}

const handedOut = new Set();

/** A free loopback TCP port, never the same one twice in this process. */
async function freePort() {
	for (;;) {
		const port = await new Promise((resolve, reject) => {
			const server = net.createServer();
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				const { port: p } = server.address();
				server.close(() => resolve(p));
			});
		});
		if (!handedOut.has(port)) {
			handedOut.add(port);
			return port;
		}
	}
}

module.exports = { spawnGroup, killGroup, run, tail, tailFile, freePort };
