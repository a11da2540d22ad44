/** Personal QR code → phone number (Vipps QR API), chained into a check-in, through n8n's engine. */
import type { INode } from 'n8n-workflow';

import { runWorkflow } from '../../harness/runWorkflow';
import { validateAgainstContract } from '../../simulator/contract';
import type { VippsSimulator } from '../../simulator/VippsSimulator';
import { CREDENTIAL_ID, INPUT_NODE, VIPPS_NODE_TYPE, checkInWorkflow, simulatorCredential, startSimulator } from './fixtures';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
});

afterEach(async () => {
	await simulator.close();
});

function qrToCheckInWorkflow(codes: string[]) {
	const base = checkInWorkflow({ items: codes.map((qrCode) => ({ qrCode })), continueOnFail: true });
	const exchange: INode = {
		id: 'qr',
		name: 'Phone From QR Code',
		type: VIPPS_NODE_TYPE,
		typeVersion: 1,
		position: [220, 0],
		parameters: { resource: 'qrCode', operation: 'getPhoneNumber', qrCode: '={{ $json.qrCode }}', options: {} },
		credentials: { vippsMobilePayApi: { id: CREDENTIAL_ID, name: 'Vipps simulator' } },
		onError: 'continueRegularOutput',
	};
	const checkIn = { ...base.nodes[1], position: [440, 0] as [number, number], parameters: { ...base.nodes[1].parameters, phoneNumber: '={{ $json.phoneNumber }}', isMember: true } };
	return {
		...base,
		nodes: [base.nodes[0], exchange, checkIn],
		connections: {
			[INPUT_NODE]: { main: [[{ node: exchange.name, type: 'main' as const, index: 0 }]] },
			[exchange.name]: { main: [[{ node: checkIn.name, type: 'main' as const, index: 0 }]] },
		},
	};
}

describe('Get Phone Number From QR Code', () => {
	it('exchanges a scanned personal QR code for the phone number and checks the customer in', async () => {
		simulator.registerPersonalQrCode('https://qr.vipps.no/p/kari-nordmann', '4791234567');
		const run = await runWorkflow(qrToCheckInWorkflow(['https://qr.vipps.no/p/kari-nordmann']), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf('Phone From QR Code')[0].json).toEqual({
			phoneNumber: '4791234567',
			qrCodeVersion: '2.0',
			qrCodeCreatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
			merchantSerialNumber: '123456',
		});
		expect(simulator.checkInRequests().map((r) => r.body)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
		// One token serves both APIs.
		expect(simulator.tokenRequests()).toHaveLength(1);
		for (const request of simulator.requests) expect(validateAgainstContract(request)).toEqual({ valid: true, errors: [] });
	});

	it('reads a timestamp sent as a numeric string, and gives null for one out of range, without failing the exchange', async () => {
		const codes = ['https://qr.vipps.no/p/as-text', 'https://qr.vipps.no/p/far-future', 'https://qr.vipps.no/p/as-number'];
		simulator.registerPersonalQrCode(codes[0], '4791234567', { timestamp: '1634025600' });
		simulator.registerPersonalQrCode(codes[1], '4798765432', { timestamp: 1e20 });
		simulator.registerPersonalQrCode(codes[2], '4741234567', { timestamp: 1634025600 });
		const run = await runWorkflow(qrToCheckInWorkflow(codes), { credentials: [simulatorCredential(simulator)] });

		expect(run.error).toBeUndefined();
		expect(run.itemsOf('Phone From QR Code').map((item) => [item.json.phoneNumber, item.json.qrCodeCreatedAt])).toEqual([
			['4791234567', '2021-10-12T08:00:00.000Z'],
			['4798765432', null],
			['4741234567', '2021-10-12T08:00:00.000Z'],
		]);
		expect(simulator.checkInRequests()).toHaveLength(3);
	});

	it("an unreadable code becomes an error item with Vipps's reason, and nothing is checked in for it", async () => {
		const run = await runWorkflow(qrToCheckInWorkflow(['not a vipps code']), { credentials: [simulatorCredential(simulator)] });
		const [item] = run.itemsOf('Phone From QR Code');
		expect(item.json.error).toBe('Vipps rejected the QR code exchange: Bad request');
		expect(item.json.details).toEqual({
			description: expect.stringMatching(/^qrCode: The complete data contained in the QR code is required\./),
			httpCode: '400',
			attempts: 1,
			possibleDuplicate: false,
		});
		expect(simulator.checkInRequests()).toHaveLength(0);
	});

	it('an empty code is refused before anything is sent', async () => {
		const run = await runWorkflow(qrToCheckInWorkflow(['']), { credentials: [simulatorCredential(simulator)] });
		expect(run.itemsOf('Phone From QR Code')[0].json.error).toBe('QR Code: expected the scanned text; got an empty text');
		expect(simulator.requests).toHaveLength(0);
	});
});
