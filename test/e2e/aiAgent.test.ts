/**
 * examples/ai-agent-check-in.json inside real n8n 2.41: Chat Trigger → AI Agent (v3.1) with an
 * OpenAI Chat Model sub-node and this package's node as an AI tool (n8n-nodes-vipps-checkin.vippsCheckInTool,
 * the variant n8n generates for nodes marked usableAsTool), its Phone Number and Is Member left to
 * the model with $fromAI().
 *
 * The model is FakeChatModel, a scripted OpenAI-compatible server on loopback that the OpenAI
 * credential's Base URL points at; Vipps is the simulator. The Chat Trigger waits for a chat
 * message, which `n8n execute` never sends, so the run uses a headless copy (see headlessCopy):
 * the trigger becomes a Set node of the same name emitting what the Chat Trigger emits
 * ({ sessionId, action: 'sendMessage', chatInput }), started by a Manual Trigger.
 */
import type { IDataObject, INode } from 'n8n-workflow';

import { PATHS, type RecordedRequest, type VippsSimulator } from '../../simulator/VippsSimulator';
import { simulatorCredential, startSimulator } from '../workflow/fixtures';
import { FakeChatModel, type RecordedChatRequest } from './fakeChatModel';
import type { ExecuteResult, ImportedCredential } from './kit';
import {
	CHECK_IN_ID,
	E2E_TIMEOUT_MS,
	N8nUserFolder,
	VIPPS_TOOL_TYPE,
	expectVippsSystemHeaders,
	headlessCopy,
	installedN8nWorkflowVersion,
	itWithN8nLog,
	itemsOf,
	jsonOf,
	loadExample,
	withCredentials,
} from './support';

const EXAMPLE = loadExample('ai-agent-check-in.json');
const TOOL_NODE = 'Vipps Check-in';
const OPENAI_KEY = 'sk-e2e-fake-model-key';

let simulator: VippsSimulator;
let model: FakeChatModel;
let n8n: N8nUserFolder | undefined;
let credentials: ImportedCredential[];
let n8nWorkflowVersion: string;

const itN8n = itWithN8nLog(() => n8n?.logTail);

beforeAll(async () => {
	simulator = await startSimulator();
	model = await FakeChatModel.start();
	n8nWorkflowVersion = await installedN8nWorkflowVersion();
	n8n = await N8nUserFolder.create();
	const { id: _harnessId, ...simulatorKeys } = simulatorCredential(simulator);
	credentials = await n8n.importCredentials([
		{ ...simulatorKeys, name: 'Vipps MobilePay API (simulator)' },
		{ name: 'OpenAI (fake model)', type: 'openAiApi', data: { apiKey: OPENAI_KEY, url: model.baseUrl } },
	]);
}, E2E_TIMEOUT_MS);

afterAll(async () => {
	n8n?.remove();
	await model?.close();
	await simulator?.close();
});

interface ChatRun {
	result: ExecuteResult;
	vipps: RecordedRequest[];
	modelCalls: RecordedChatRequest[];
}

/** One chat message through the example, headless; returns the run and what Vipps and the model received during it. */
async function chat(message: string): Promise<ChatRun> {
	const chatItem = { sessionId: 'e2e-session', action: 'sendMessage', chatInput: message };
	const id = await n8n!.importWorkflow(headlessCopy(withCredentials(EXAMPLE, credentials), chatItem));
	const vippsBefore = simulator.requests.length;
	const modelBefore = model.requests.length;
	const result = await n8n!.execute(id);
	return { result, vipps: simulator.requests.slice(vippsBefore), modelCalls: model.requests.slice(modelBefore) };
}

function exampleNode(name: string): INode {
	return EXAMPLE.nodes.find((node) => node.name === name)!;
}

const lastMessage = (call: RecordedChatRequest) => call.body.messages.at(-1)!;

describe('examples/ai-agent-check-in.json: an AI Agent using Vipps Check-in as a tool', () => {
	// test/examples checks the other examples this way; its harness cannot load n8n's AI nodes.
	it('is an n8n workflow export like the other examples: v1 order, unique ids, a sticky note above, placeholders and no keys', () => {
		expect(EXAMPLE.name).toMatch(/^Vipps Check-in .{10,}/);
		expect(EXAMPLE.settings).toEqual({ executionOrder: 'v1' });
		expect(new Set(EXAMPLE.nodes.map((node) => node.id)).size).toBe(EXAMPLE.nodes.length);
		for (const node of EXAMPLE.nodes) expect(node.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		const notes = EXAMPLE.nodes.filter((node) => node.type === 'n8n-nodes-base.stickyNote');
		const top = Math.min(...EXAMPLE.nodes.filter((node) => !notes.includes(node)).map((node) => node.position[1]));
		expect(notes).toHaveLength(1);
		expect(notes[0].position[1] + (notes[0].parameters.height as number)).toBeLessThanOrEqual(top);
		expect(notes[0].parameters.content).toMatch(/^## [^]*credential[^]*\$fromAI/i);
		const text = JSON.stringify(EXAMPLE);
		expect(text).not.toMatch(/clientSecret|client_secret|subscriptionKey|apiKey|sk-[A-Za-z0-9]{10,}|Bearer\s+\w/);
		expect(text).not.toMatch(/\b[0-9a-f]{32}\b/i);
	});

	it('wires our node as the agent\'s tool, with both fields left to the model', () => {
		const tool = exampleNode(TOOL_NODE);
		expect(tool.type).toBe(VIPPS_TOOL_TYPE);
		expect(EXAMPLE.connections[TOOL_NODE]).toEqual({ ai_tool: [[{ node: 'AI Agent', type: 'ai_tool', index: 0 }]] });
		expect(tool.parameters.phoneNumber).toMatch(/^=\{\{ \$fromAI\('phoneNumber', '[^']+', 'string'\) \}\}$/);
		expect(tool.parameters.isMember).toMatch(/^=\{\{ \$fromAI\('isMember', '[^']+', 'boolean'\) \}\}$/);
		expect(exampleNode('OpenAI Chat Model').credentials).toEqual({ openAiApi: { id: 'REPLACE_ME', name: 'OpenAI account' } });
		expect(tool.credentials).toEqual({ vippsMobilePayApi: { id: 'REPLACE_ME', name: 'Vipps MobilePay API' } });
	});

	itN8n('checks in the phone number the model took from the chat, and the agent answers with the check-in id', async () => {
		const { result, vipps, modelCalls } = await chat("Hi! I'm a member of the loyalty club, my number is +47 912 34 567.");

		expect(result.error).toBeNull();
		// 1st call: n8n offers our tool, described by the example, its schema built from the $fromAI() calls.
		expect(modelCalls).toHaveLength(2);
		expect(modelCalls.map((call) => call.authorization)).toEqual([`Bearer ${OPENAI_KEY}`, `Bearer ${OPENAI_KEY}`]);
		const [offer] = modelCalls[0].body.tools!;
		expect(modelCalls[0].body.tools).toHaveLength(1);
		expect(offer.function).toMatchObject({
			name: 'Vipps_Check-in',
			description: exampleNode(TOOL_NODE).parameters.toolDescription,
			parameters: {
				properties: { phoneNumber: { type: 'string' }, isMember: { type: 'boolean' } },
				required: expect.arrayContaining(['phoneNumber', 'isMember']),
			},
		});
		// The example's system message first (LangChain sends it as "developer" to gpt-5 models), then the customer's.
		expect(modelCalls[0].body.messages).toEqual([
			{ role: expect.stringMatching(/^(system|developer)$/), content: (exampleNode('AI Agent').parameters.options as IDataObject).systemMessage },
			{ role: 'user', content: "Hi! I'm a member of the loyalty club, my number is +47 912 34 567." },
		]);

		// The model's arguments went through our node: normalised, one token, one check-in.
		expect(jsonOf(itemsOf(result, TOOL_NODE, 0, 'ai_tool'))).toEqual([
			{ checkInId: expect.stringMatching(CHECK_IN_ID), attempts: 1, possibleDuplicate: false, phoneNumber: '4791234567', isMember: true, merchantSerialNumber: '123456' },
		]);
		const { checkInId } = itemsOf(result, TOOL_NODE, 0, 'ai_tool')[0].json as { checkInId: string };
		expect(vipps.map((request) => `${request.status} ${request.path}`)).toEqual([`200 ${PATHS.accessToken}`, `200 ${PATHS.checkIn}`]);
		expect(vipps[1].body).toEqual({ phoneNumber: '4791234567', isMember: true });
		expectVippsSystemHeaders(vipps, n8nWorkflowVersion);

		// 2nd call: the tool's output went back to the model, whose answer is the agent's output.
		expect(lastMessage(modelCalls[1])).toMatchObject({ role: 'tool', content: expect.stringContaining(checkInId) });
		expect(jsonOf(itemsOf(result, 'AI Agent'))).toEqual([{ output: `You are checked in, 4791234567. Vipps check-in id: ${checkInId}` }]);
	});

	itN8n('refuses a number that is not Norwegian before anything reaches Vipps, and hands the reason to the model', async () => {
		const { result, vipps, modelCalls } = await chat("Hei, it's 9123 - I'm not a member yet.");

		// The tool failed, the agent did not: it answered with the reason.
		expect(result.error).toBeNull();
		const toolRun = result.runData![TOOL_NODE].at(-1)!;
		expect(toolRun.executionStatus).toBe('error');
		expect(toolRun.error?.message).toMatch(/^Phone Number: .*"9123"/);
		expect((toolRun.inputOverride?.ai_tool?.[0]?.[0]?.json as IDataObject | undefined)).toEqual({ phoneNumber: '9123', isMember: false });
		expect(vipps).toEqual([]);

		expect(modelCalls).toHaveLength(2);
		expect(lastMessage(modelCalls[1])).toMatchObject({ role: 'tool', content: expect.stringContaining('Phone Number:') });
		expect(jsonOf(itemsOf(result, 'AI Agent'))).toEqual([{ output: expect.stringMatching(/^Sorry, I could not check you in: Phone Number: .*"9123"/) }]);
	});
});
