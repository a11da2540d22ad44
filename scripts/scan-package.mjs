// Applies the checks of n8n's community-package scanner (@n8n/scan-community-package, the gate
// n8n runs before it verifies a package) to this package before it is published: the scanner
// itself only fetches published packages with npm provenance. Same config, same file sets
// (the packed tarball, and the shippable sources), inline eslint-disable comments ignored.
//
//   node scripts/scan-package.mjs            # after `npm run build`; prints a report
//   node scripts/scan-package.mjs --json     # the findings as JSON (used by the tests)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ESLint } from 'eslint';
import glob from 'fast-glob';
import { SOURCE_FILE_PATTERNS, buildScanConfig } from '@n8n/scan-community-package/scanner/scanner.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARBALL_PATTERNS = ['**/*.js', '**/*.ts', '**/*.json'];

async function scan(dir, patterns) {
	const eslint = new ESLint({ cwd: dir, allowInlineConfig: false, overrideConfigFile: true, overrideConfig: await buildScanConfig() });
	const files = glob.sync(patterns, { cwd: dir, absolute: true, ignore: ['node_modules/**', '**/package-lock.json'] });
	const results = await eslint.lintFiles(files);
	return results.flatMap((result) =>
		result.messages
			.filter((message) => message.severity === 2)
			.map((message) => ({ file: result.filePath.slice(dir.length + 1), line: message.line, rule: message.ruleId, message: message.message })),
	);
}

const work = mkdtempSync(join(tmpdir(), 'vipps-scan-'));
try {
	const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: repo, encoding: 'utf8' }).trim().split('\n').pop();
	const unpacked = join(work, 'package');
	execFileSync('tar', ['-xzf', join(work, tarball), '-C', work]);
	const findings = { tarball: await scan(unpacked, TARBALL_PATTERNS), source: await scan(repo, SOURCE_FILE_PATTERNS) };
	if (process.argv.includes('--json')) {
		console.log(JSON.stringify(findings));
	} else {
		for (const [leg, list] of Object.entries(findings)) {
			console.log(`${leg}: ${list.length} error(s)`);
			for (const f of list) console.log(`  ${f.file}:${f.line}  ${f.rule}  ${f.message}`);
		}
	}
} finally {
	rmSync(work, { recursive: true, force: true });
}
