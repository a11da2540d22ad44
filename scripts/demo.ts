/**
 * The main job, end to end: a handful of form submissions with messy phone numbers, mapped by
 * expressions into the Vipps Check-in node and run by n8n's own engine against the local Vipps
 * simulator (or, with VIPPS_* variables set, one real check-in in production).
 *
 *   npm run demo                      # simulator, no keys needed
 *   VIPPS_CLIENT_ID=… VIPPS_CLIENT_SECRET=… VIPPS_SUBSCRIPTION_KEY=… VIPPS_MSN=… \
 *   VIPPS_PHONE_NUMBER=… npm run demo # one real check-in in production
 *
 * Exits non-zero when any outcome differs from what the demo expects.
 */
import type { IDataObject } from 'n8n-workflow';

import { runWorkflow, type HarnessCredential, type WorkflowJson } from '../harness/runWorkflow';
import { VippsSimulator } from '../simulator/VippsSimulator';

interface Submission {
	json: IDataObject;
	/** What the demo expects to happen to this submission. */
	expected: 'sent' | 'refused';
}

const SIMULATED_SUBMISSIONS: Submission[] = [
	{ json: { name: 'Kari Nordmann', phone: '+47 912 34 567', loyalty: 'yes' }, expected: 'sent' },
	{ json: { name: 'Ola Hansen', phone: '0047 98765432', loyalty: 'no' }, expected: 'sent' },
	{ json: { name: 'Ingrid Berg', phone: 41234567, loyalty: 'yes' }, expected: 'sent' },
	{ json: { name: 'Per Olsen', phone: '(+47) 400-12-345', loyalty: 'ja' }, expected: 'sent' },
	{ json: { name: 'Sven Svensson', phone: '+46 70 123 45 67', loyalty: 'yes' }, expected: 'refused' },
	{ json: { name: 'Typo Tina', phone: '912 34', loyalty: 'yes' }, expected: 'refused' },
	{ json: { name: 'Oslo office', phone: '22 12 34 56', loyalty: 'yes' }, expected: 'refused' },
	{ json: { name: 'Kim Lie', phone: '4799887766', loyalty: 'maybe' }, expected: 'refused' },
];

function demoWorkflow(submissions: Submission[]): WorkflowJson {
	return {
		name: 'Vipps Check-in demo',
		nodes: [
			{
				id: 'form',
				name: 'Form Submissions',
				type: 'n8n-nodes-base.manualTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{
				id: 'checkin',
				name: 'Vipps Check-in',
				type: 'n8n-nodes-vipps-checkin.vippsCheckIn',
				typeVersion: 1,
				position: [240, 0],
				parameters: {
					resource: 'checkIn',
					operation: 'send',
					phoneNumber: '={{ $json.phone }}',
					isMember: '={{ $json.loyalty }}',
					options: {},
				},
				credentials: { vippsMobilePayApi: { id: 'demo', name: 'Vipps MobilePay API' } },
				onError: 'continueRegularOutput',
			},
		],
		connections: { 'Form Submissions': { main: [[{ node: 'Vipps Check-in', type: 'main', index: 0 }]] } },
		pinData: { 'Form Submissions': submissions.map(({ json }) => ({ json })) },
	};
}

function productionSetup(): { credential: HarnessCredential; submissions: Submission[] } | undefined {
	const env = process.env;
	if (!env.VIPPS_CLIENT_ID) return undefined;
	const missing = ['VIPPS_CLIENT_SECRET', 'VIPPS_SUBSCRIPTION_KEY', 'VIPPS_PHONE_NUMBER'].filter((name) => !env[name]);
	if (missing.length) throw new Error(`Set ${missing.join(', ')} too, or unset VIPPS_CLIENT_ID to use the simulator`);
	return {
		credential: {
			id: 'demo',
			name: 'Vipps MobilePay API',
			type: 'vippsMobilePayApi',
			data: {
				environment: env.VIPPS_ENVIRONMENT ?? 'production',
				clientId: env.VIPPS_CLIENT_ID,
				clientSecret: env.VIPPS_CLIENT_SECRET!,
				subscriptionKey: env.VIPPS_SUBSCRIPTION_KEY!,
				merchantSerialNumber: env.VIPPS_MSN ?? '',
			},
		},
		submissions: [{ json: { name: 'You', phone: env.VIPPS_PHONE_NUMBER!, loyalty: 'yes' }, expected: 'sent' }],
	};
}

function table(rows: string[][]): string {
	const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
	const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ');
	return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<number> {
	const production = productionSetup();
	const simulator = production ? undefined : await VippsSimulator.start({ latencyMs: 20 });
	const submissions = production?.submissions ?? SIMULATED_SUBMISSIONS;
	const credential: HarnessCredential = production?.credential ?? {
		id: 'demo',
		name: 'Vipps MobilePay API',
		type: 'vippsMobilePayApi',
		data: simulator!.credentialData(),
	};
	try {
		console.log(
			production
				? `Sending one real check-in via ${credential.data.environment} …\n`
				: `Local Vipps simulator at ${simulator!.baseUrl} (fake keys; nothing leaves this machine)\n`,
		);
		const startedAt = Date.now();
		const run = await runWorkflow(demoWorkflow(submissions), { credentials: [credential] });
		const elapsed = Date.now() - startedAt;
		if (run.error) {
			console.error(`The workflow failed: ${run.error.message}`);
			return 1;
		}
		const outputs = run.itemsOf('Vipps Check-in');
		let surprises = 0;
		const rows = [['#', 'name', 'phone (as typed)', 'member', 'outcome']];
		submissions.forEach((submission, index) => {
			const output = outputs.find((item) => (item.pairedItem as { item: number }).item === index)?.json;
			const sent = output !== undefined && output.error === undefined;
			if ((sent ? 'sent' : 'refused') !== submission.expected) surprises++;
			rows.push([
				String(index),
				String(submission.json.name),
				JSON.stringify(submission.json.phone),
				String(submission.json.loyalty),
				sent
					? `sent ${output!.phoneNumber} isMember=${output!.isMember} → check-in id ${output!.checkInId}`
					: `refused: ${output?.error ?? 'no output item'}`,
			]);
		});
		console.log(`Vipps Check-in node: ${outputs.length} items in, ${outputs.length} out, in ${elapsed} ms\n`);
		console.log(table(rows));
		if (simulator) {
			console.log('\nWhat the simulator received (secrets redacted in its log):\n');
			console.log(
				table([
					['#', 'request', 'status', 'body', 'MSN', 'Vipps-System-*'],
					...simulator.requests.map((request) => [
						String(request.seq),
						`${request.method} ${request.path}`,
						String(request.status),
						request.rawBody || '(empty)',
						request.headers['merchant-serial-number'] ?? '-',
						`${request.headers['vipps-system-name']} ${request.headers['vipps-system-version']}, ${request.headers['vipps-system-plugin-name']} ${request.headers['vipps-system-plugin-version']}`,
					]),
				]),
			);
			const expectedSent = submissions.filter((s) => s.expected === 'sent').length;
			if (simulator.tokenRequests().length !== 1 || simulator.checkInRequests().length !== expectedSent) surprises++;
		}
		console.log(
			surprises === 0
				? '\nDemo OK: valid numbers were normalised and checked in, invalid ones refused before sending, one access token for the whole batch.'
				: `\nDemo FAILED: ${surprises} outcome(s) differ from what was expected.`,
		);
		return surprises === 0 ? 0 : 1;
	} finally {
		await simulator?.close();
	}
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error.message);
		process.exit(1);
	},
);
