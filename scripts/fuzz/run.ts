/**
 * `npm run fuzz -- --cases N --seed S`: the property-based run of test/property, as long as asked.
 * Prints the seed, figures (cases, items, requests, faults of each kind, invariant checks, time)
 * and, for each invariant that fails, the shrunk counterexample as an entry ready to paste into
 * test/property/regressions.test.ts. After a failure it goes on with the invariants that still
 * hold, on the cases left (`--stop-at-first` stops instead).
 *
 *   --cases N           cases to run in all (default 200)
 *   --seed S            fast-check seed (default: random, printed); runner r starts at S + r
 *   --parallel P        cases run side by side, one runner each (default 4): a case mostly waits
 *   --max-items N       items per case, at most (default 6)
 *   --skip a,b          leave these invariants out
 *   --no-shrink         report a failing case as generated, without shrinking it
 *   --replay FILE       run the cases of a JSON file (one case, or a list) and print their violations
 *   --stop-at-first     end at the first failing case
 *   --json FILE         also write the figures and counterexamples to FILE
 */
import { readFileSync, writeFileSync } from 'node:fs';

import fc from 'fast-check';

import {
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
import { unattributedRejections } from './runCase';

interface Args {
	cases: number;
	seed: number;
	parallel: number;
	maxItems: number;
	skip: Set<string>;
	shrink: boolean;
	replay?: string;
	stopAtFirst: boolean;
	json?: string;
}

function parseArgs(argv: string[]): Args {
	const args: Args = { cases: 200, seed: Math.floor(Math.random() * 2 ** 30), parallel: 4, maxItems: 6, skip: new Set(), shrink: true, stopAtFirst: false };
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
			case '--parallel':
				args.parallel = Math.max(1, whole(value(), '--parallel'));
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
				process.stdout.write(`${readFileSync(__filename, 'utf8').split('/**')[1].split('*/')[0].replace(/^ \* ?/gm, '').trim()}\n`);
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

function printStats(stats: FuzzStats, generated: number, wallMs: number): void {
	const lines = [
		`cases             ${generated} generated; ${stats.cases} run (shrinking included)`,
		`items             ${stats.items}`,
		`requests          ${stats.requests} (token ${stats.tokenRequests}, check-in ${stats.checkInRequests})`,
		`refused conns     ${stats.refusedConnections}; closed ports ${stats.closedPorts}; closed gateways ${stats.closedGateways}`,
		`not run by n8n    ${stats.refusedByN8n} (a required parameter left empty)`,
		`second runs       ${stats.secondRuns} (the same items again, for Skip Repeats); cancelled while running ${stats.cancelled}`,
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
		'cases violating, by invariant (shrinking included):',
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
	/** Grows as invariants fail: each runner's next round leaves them out. */
	const skip = new Set(args.skip);
	const startedAt = Date.now();
	process.stdout.write(
		`fuzz: seed ${args.seed}, ${args.cases} cases of up to ${args.maxItems} items, ${args.parallel} side by side; ` +
			`invariants left out: ${[...skip].join(', ') || 'none'}\n`,
	);
	let lastReport = Date.now();
	const progress = setInterval(() => {
		if (Date.now() - lastReport < 60_000) return;
		lastReport = Date.now();
		const failing = Object.keys(stats.violations);
		process.stdout.write(`  … ${stats.cases} cases, ${((Date.now() - startedAt) / 1000).toFixed(0)} s${failing.length ? `; failing: ${failing.join(', ')}` : ''}\n`);
	}, 5_000);
	let broken: string | undefined;
	/** Cases generated, not counting the runs that shrank a failing one. */
	let generated = 0;

	const runner = async (index: number, cases: number): Promise<void> => {
		let left = cases;
		let seed = args.seed + index;
		while (left > 0 && !broken) {
			const ownSkip = new Set(skip);
			const details = await fc.check(fuzzProperty({ ...generatorFor(ownSkip, args.maxItems), skip: ownSkip, stats }), {
				seed,
				numRuns: left,
				endOnFailure: !args.shrink,
			});
			generated += details.numRuns;
			if (!details.failed) return;
			left -= details.numRuns;
			const error = details.errorInstance;
			const violations = error instanceof InvariantViolation ? error.violations : [];
			const invariants = [...new Set(violations.map((v) => v.invariant))];
			const fuzzCase = details.counterexample?.[0];
			if (!fuzzCase || invariants.length === 0) {
				broken = `seed ${seed}: the property failed without an invariant violation: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
				return;
			}
			const fresh = invariants.filter((name) => !counterexamples.some((c) => c.invariants.includes(name)));
			const example: Counterexample = { seed, path: details.counterexamplePath ?? '', invariants, violations, fuzzCase };
			if (fresh.length) {
				counterexamples.push(example);
				process.stdout.write(
					`\nFAILED (runner ${index}) after ${details.numRuns} case(s), ${details.numShrinks} shrink(s); seed ${seed}, path "${example.path}"\n` +
						violations.map((v) => `  [${v.invariant}] ${v.message}\n`).join('') +
						`shrunk counterexample, for test/property/regressions.test.ts:\n${pasteable(example)}\n\n`,
				);
			}
			if (args.stopAtFirst) {
				broken = 'stopped at the first failing case (--stop-at-first)';
				return;
			}
			for (const invariant of invariants) skip.add(invariant);
			seed += args.parallel;
		}
	};

	try {
		const share = Math.floor(args.cases / args.parallel);
		await Promise.all(
			Array.from({ length: Math.min(args.parallel, args.cases) }, (_, index) => runner(index, share + (index < args.cases % args.parallel ? 1 : 0))),
		);
	} finally {
		clearInterval(progress);
	}
	const wallMs = Date.now() - startedAt;
	process.stdout.write(`\nseed ${args.seed} (runners ${args.seed} to ${args.seed + args.parallel - 1}), ${args.parallel} side by side\n`);
	printStats(stats, generated, wallMs);
	if (unattributedRejections.length) {
		process.stdout.write(`\n${unattributedRejections.length} unhandled rejection(s) after their case had ended (replay the case with --parallel 1 to tell which):\n`);
		for (const text of unattributedRejections.slice(0, 5)) process.stdout.write(`  ${text.slice(0, 500)}\n`);
	}
	if (broken) process.stdout.write(`\n${broken}\n`);
	const failed = [...new Set(counterexamples.flatMap((c) => c.invariants))];
	process.stdout.write(failed.length ? `\nFAILED invariants: ${failed.join(', ')}\n` : broken ? '' : '\nevery invariant held\n');
	if (args.json) writeFileSync(args.json, `${JSON.stringify({ seed: args.seed, args: { ...args, skip: [...args.skip] }, generated, stats, wallMs, counterexamples }, null, 2)}\n`);
	return broken ? 2 : failed.length ? 1 : 0;
}

main().then(
	(code) => process.exit(code),
	(error: unknown) => {
		process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
		process.exit(2);
	},
);
