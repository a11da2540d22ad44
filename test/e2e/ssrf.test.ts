/**
 * n8n's SSRF protection inside real n8n 2.41. With N8N_SSRF_PROTECTION_ENABLED=true n8n's outbound
 * layer (@n8n/backend-network, used by `this.helpers.httpRequest`) refuses requests to the
 * blocked ranges — by default loopback, private and link-local networks
 * (@n8n/config SsrfProtectionConfig: N8N_SSRF_BLOCKED_IP_RANGES, N8N_SSRF_ALLOWED_IP_RANGES,
 * N8N_SSRF_BLOCKED_HOSTNAMES, N8N_SSRF_ALLOWED_HOSTNAMES). A node that keeps to n8n's helpers is
 * held to the administrator's policy: the simulator on 127.0.0.1 is out of reach until allowed.
 */
import { PATHS } from '../../simulator/VippsSimulator';
import type { N8nEnv } from './kit';
import { CHECK_IN_ID, E2E_TIMEOUT_MS, customerListWorkflow, itemsOf, jsonOf, useSimulatorAndN8n } from './support';

const VIPPS = 'Vipps Check-in';
const PROTECTED: N8nEnv = { N8N_SSRF_PROTECTION_ENABLED: 'true' };

let workflowId: string;

const { stack, itN8n } = useSimulatorAndN8n();

beforeAll(async () => {
	expect(stack.simulator.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
	workflowId = await stack.n8n.importWorkflow(customerListWorkflow('SSRF protection', [{ phone: '+47 912 34 567', member: true }], [{ name: VIPPS }], stack.credential));
}, E2E_TIMEOUT_MS);

beforeEach(() => stack.simulator.resetLog());

describe("n8n's SSRF protection", () => {
	itN8n('on, with the credential pointing at 127.0.0.1: the check-in is refused with an error naming the address and SSRF, and nothing reaches Vipps', async () => {
		const result = await stack.n8n.execute(workflowId, PROTECTED);

		expect(result.ok).toBe(false);
		const error = result.error as { message: string; description?: string } | null;
		const explained = `${error?.message}\n${error?.description ?? ''}`;
		expect(explained).toMatch(/SSRF|Server-Side Request Forgery/);
		expect(explained).toContain('127.0.0.1');
		expect(itemsOf(result, VIPPS)).toEqual([]);
		// Refused before any connection: not even the token request left n8n.
		expect(stack.simulator.requests).toEqual([]);
	});

	itN8n('on, with 127.0.0.1 allowed by N8N_SSRF_ALLOWED_IP_RANGES: the check-in goes through', async () => {
		const result = await stack.n8n.execute(workflowId, { ...PROTECTED, N8N_SSRF_ALLOWED_IP_RANGES: '127.0.0.1/32' });

		expect(result.error).toBeNull();
		expect(jsonOf(itemsOf(result, VIPPS))).toEqual([
			{ checkInId: expect.stringMatching(CHECK_IN_ID), attempts: 1, possibleDuplicate: false, phoneNumber: '4791234567', isMember: true, merchantSerialNumber: '123456' },
		]);
		expect(stack.simulator.requests.map((request) => `${request.status} ${request.path}`)).toEqual([`200 ${PATHS.accessToken}`, `200 ${PATHS.checkIn}`]);
	});
});
