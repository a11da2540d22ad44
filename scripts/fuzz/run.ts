/**
 * `npm run fuzz -- --cases N --seed S`: the property-based run of test/property, as long as asked.
 * Prints the seed, figures (cases, items, requests, faults of each kind, invariant checks, time)
 * and, for each invariant that fails, the shrunk counterexample as an entry ready to paste into
 * test/property/regressions.test.ts. After a failure it goes on with the invariants that still
 * hold, on the cases left (`--stop-at-first` stops instead).
 *
 *   --cases N           cases to run in all (default 200)
 *   --seed S            fast-check seed (default: random, printed)
 *   --max-items N       items per case, at most (default 6)
 *   --skip a,b          leave these invariants out
 *   --skip-awaiting     leave out the invariants this round's other branches make true (AWAITING_ROUND_CHANGES)
 *   --no-shrink         report a failing case as generated, without shrinking it
 *   --replay FILE       run the cases of a JSON file (one case, or a list) and print their violations
 *   --stop-at-first     end at the first failing case
 *   --json FILE         also write the figures and counterexamples to FILE
 */
import { readFileSync, writeFileSync } from 'node:fs';

import fc from 'fast-check';

import {
	AWAITING_ROUND_CHANGES,
	INVARIANT_NAMES,
	InvariantViolation,
	checkCase,
	emptyStats,
	fuzzProperty,
	generatorFor,
	type FuzzCase,
	type FuzzStats,
	type Violation,
} from './property';

interface Args {
	cases: number;
	seed: number;
	maxItems: number;
	skip: Set<string>;
	shrink: boolean;
	replay?: string;
	stopAtFirst: boolean;
	json?: string;
}

function parseArgs(argv: string[]): Args {
	const args: Args = { cases: 200, seed: Math.floor(Math.random() * 2 ** 31), maxItems: 6, skip: new Set(), shrink: true, stopAtFirst: false };
	for (let i = 0; i < argv.length; i++) {
		const value = () => {
			const next = argv[++i];
			if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`);
			return next;
		};
		const whole = (text: string, name: string) => {
			const number = Number(text);
			if (!Number.isInteger(number) || number < 0) throw new Error(`${name} must be a whole number, got ${text}`);
			return number;
		};
		switch (argv[i]) {
			case '--cases':
				args.cases = whole(value(), '--cases');
				break;
			case '--seed':
				args.seed = whole(value(), '--seed');
				break;
			case '--max-items':
				args.maxItems = Math.max(1, whole(value(), '--max-items'));
				break;
			case '--skip':
				for (const name of value().split(',').filter(Boolean)) {
					if (!(INVARIANT_NAMES as string[]).includes(name)) throw new Error(`no invariant "${name}"; there are ${INVARIANT_NAMES.join(', ')}`);
					args.skip.add(name);
				}
				break;
			case '--skip-awaiting':
				for (const name of AWAITING_ROUND_CHANGES) args.skip.add(name);
				break;
			case '--no-shrink':
				args.shrink = false;
				break;
			case '--replay':
				args.replay = value();
				break;
			case '--stop-at-first':
				args.stopAtFirst = true;
				break;
			case '--json':
				args.json = value();
				break;
			case '--help':
			case '-h':
				process.stdout.write(`${readFileSync(__filename, 'utf8').split('*/')[0]}*/\n`);
				process.exit(0);
			// eslint-disable-next-line no-fallthrough
			default:
				throw new Error(`unknown argument ${argv[i]} (see --help)`);
		}
	}
	return args;
}

interface Counterexample {
	seed: number;
	path: string;
	invariants: string[];
	violations: Violation[];
	fuzzCase: FuzzCase;
}

function pasteable(example: Counterexample): string {
	const name = `${example.invariants.join(', ')} (seed ${example.seed}, path ${example.path})`;
	return `\t{\n\t\tname: ${JSON.stringify(name)},\n\t\tinvariants: ${JSON.stringify(example.invariants)},\n\t\tfuzzCase: ${JSON.stringify(example.fuzzCase)},\n\t},`;
}

function printStats(stats: FuzzStats, wallMs: number): void {
	const lines = [
		`cases             ${stats.cases}`,
		`items             ${stats.items}`,
		`requests          ${stats.requests} (token ${stats.tokenRequests}, check-in ${stats.checkInRequests})`,
		`refused conns     ${stats.refusedConnections}; closed ports ${stats.closedPorts}; closed gateways ${stats.closedGateways}`,
		`invariant checks  ${stats.invariantChecks}`,
		`time              ${(wallMs / 1000).toFixed(1)} s wall, ${(stats.elapsedMs / 1000).toFixed(1)} s in executions, slowest case ${stats.slowestCaseMs} ms`,
		'faults injected:',
		...Object.entries(stats.faults)
			.sort(([a], [b]) => a.localeCompare(b))
			.map(([kind, count]) => `  ${kind.padEnd(44)} ${count}`),
		'faults the simulator applied:',
		...Object.entries(stats.faultsMet)
			.sort(([a], [b]) => a.localeCompare(b))
			.map(([kind, count]) => `  ${kind.padEnd(44)} ${count}`),
		'cases violating (shrinking runs included):',
		...(Object.keys(stats.violations).length
			? Object.entries(stats.violations).map(([name, count]) => `  ${name.padEnd(44)} ${count}`)
			: ['  none']),
	];
	process.stdout.write(`${lines.join('\n')}\n`);
}

async function replay(file: string, skip: Set<string>): Promise<number> {
	const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
	const cases = (Array.isArray(parsed) ? parsed : [parsed]).map((entry) => ((entry as { fuzzCase?: FuzzCase }).fuzzCase ?? entry) as FuzzCase);
	let failing = 0;
	for (const [index, fuzzCase] of cases.entries()) {
		const { violations, observation } = await checkCase(fuzzCase, { skip });
		process.stdout.write(`case ${index}: ${violations.length ? 'FAILS' : 'holds'} (${observation.elapsedMs} ms)\n`);
		for (const violation of violations) process.stdout.write(`  [${violation.invariant}] ${violation.message}\n`);
		if (violations.length) failing++;
	}
	return failing ? 1 : 0;
}

async function main(): Promise<number> {
	const args = parseArgs(process.argv.slice(2));
	if (args.replay) return await replay(args.replay, args.skip);
	const stats = emptyStats();
	const counterexamples: Counterexample[] = [];
	const skip = new Set(args.skip);
	const startedAt = Date.now();
	process.stdout.write(
		`fuzz: seed ${args.seed}, ${args.cases} cases of up to ${args.maxItems} items; invariants left out: ${[...skip].join(', ') || 'none'}\n`,
	);
	let left = args.cases;
	let seed = args.seed;
	let lastReport = Date.now();
	const progress = setInterval(() => {
		if (Date.now() - lastReport < 30_000) return;
		lastReport = Date.now();
		process.stdout.write(`  … ${stats.cases} cases run, ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
	}, 5_000);
	try {
		while (left > 0) {
			const details = await fc.check(fuzzProperty({ ...generatorFor(skip, args.maxItems), skip, stats }), {
				seed,
				numRuns: left,
				endOnFailure: !args.shrink,
			});
			if (!details.failed) break;
			left -= details.numRuns;
			const error = details.errorInstance;
			const violations = error instanceof InvariantViolation ? error.violations : [];
			const invariants = [...new Set(violations.map((v) => v.invariant))];
			const fuzzCase = details.counterexample?.[0];
			process.stdout.write(`\nFAILED after ${details.numRuns} case(s), ${details.numShrinks} shrink(s); seed ${seed}, path "${details.counterexamplePath}"\n`);
			if (!fuzzCase || invariants.length === 0) {
				process.stdout.write(`the property failed without an invariant violation: ${String(error)}\n`);
				return 2;
			}
			for (const violation of violations) process.stdout.write(`  [${violation.invariant}] ${violation.message}\n`);
			const example: Counterexample = { seed, path: details.counterexamplePath ?? '', invariants, violations, fuzzCase };
			counterexamples.push(example);
			process.stdout.write(`shrunk counterexample, for test/property/regressions.test.ts:\n${pasteable(example)}\n\n`);
			if (args.stopAtFirst) break;
			for (const invariant of invariants) skip.add(invariant);
			seed++;
			process.stdout.write(`going on with seed ${seed}, ${left} cases left, without ${invariants.join(', ')}\n`);
		}
	} finally {
		clearInterval(progress);
	}
	const wallMs = Date.now() - startedAt;
	process.stdout.write(`\nseed ${args.seed}\n`);
	printStats(stats, wallMs);
	const failed = counterexamples.flatMap((c) => c.invariants);
	process.stdout.write(failed.length ? `\nFAILED invariants: ${failed.join(', ')}\n` : '\nevery invariant held\n');
	if (args.json) writeFileSync(args.json, `${JSON.stringify({ seed: args.seed, args: { ...args, skip: [...args.skip] }, stats, wallMs, counterexamples }, null, 2)}\n`);
	return failed.length ? 1 : 0;
}

main().then(
	(code) => process.exit(code),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
		process.exit(2);
	},
);
