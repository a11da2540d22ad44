/**
 * A scripted stand-in for an OpenAI-compatible chat model, on loopback: n8n's OpenAI Chat Model
 * node talks to it through the credential's Base URL (`http://127.0.0.1:<port>/v1`). It speaks
 * only what the AI Agent needs — POST /v1/chat/completions, non-streaming, with tool calls — and
 * plays one fixed script, so a run is deterministic:
 *
 * 1. The last message is the customer's: call the check-in tool (found by its parameters
 *    phoneNumber + isMember in the request's `tools`) with the phone number written in the
 *    message and isMember from what the customer says ("not a member" → false, "member" → true).
 * 2. The last message is the tool's result: answer in words with the check-in id, or the error.
 *
 * Every request is recorded, so tests can check what n8n told the model.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
	role: 'system' | 'user' | 'assistant' | 'tool';
	content: unknown;
	tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
	tool_call_id?: string;
}

export interface ChatTool {
	type: 'function';
	function: { name: string; description?: string; parameters: { properties?: Record<string, { type?: string; description?: string }>; required?: string[] } };
}

export interface ChatCompletionRequest {
	model: string;
	stream?: boolean;
	messages: ChatMessage[];
	tools?: ChatTool[];
}

export interface RecordedChatRequest {
	path: string;
	authorization: string | undefined;
	body: ChatCompletionRequest;
}

/** A Norwegian-looking phone number as a person writes it: optional +47/0047, digits with spaces, dashes or brackets. */
const PHONE_IN_TEXT = /(?:\+|00)?\(?\d[\d ()-]*\d/;

export class FakeChatModel {
	readonly requests: RecordedChatRequest[] = [];

	private constructor(
		private readonly server: Server,
		readonly baseUrl: string,
	) {}

	static async start(): Promise<FakeChatModel> {
		const server = createServer();
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(0, '127.0.0.1', resolve);
		});
		const { port } = server.address() as AddressInfo;
		const model = new FakeChatModel(server, `http://127.0.0.1:${port}/v1`);
		server.on('request', (req: IncomingMessage, res: ServerResponse) => {
			model.handle(req, res).catch((error: unknown) => reply(res, 500, { error: { message: String(error) } }));
		});
		return model;
	}

	async close(): Promise<void> {
		const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
		this.server.closeAllConnections();
		await closed;
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const path = (req.url ?? '/').split('?')[0];
		if (req.method !== 'POST' || path !== '/v1/chat/completions') {
			reply(res, 404, { error: { message: `fake model: only POST /v1/chat/completions, not ${req.method} ${path}` } });
			return;
		}
		const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatCompletionRequest;
		this.requests.push({ path, authorization: req.headers.authorization, body });
		if (body.stream) {
			// A failing run should say why, not hang on a half-implemented stream.
			reply(res, 400, { error: { message: 'fake model: streaming is not scripted' } });
			return;
		}
		reply(res, 200, completion(body, nextMessage(body)));
	}
}

function nextMessage({ messages, tools = [] }: ChatCompletionRequest): ChatMessage {
	const last = messages.at(-1);
	if (last?.role === 'user') {
		const text = String(last.content);
		const tool = tools.find(({ function: { parameters } }) => parameters.properties?.phoneNumber && parameters.properties?.isMember);
		const phone = PHONE_IN_TEXT.exec(text)?.[0];
		if (!tool || !phone) return { role: 'assistant', content: `I cannot check you in (tool: ${tool?.function.name ?? 'none'}, number: ${phone ?? 'none'}).` };
		const isMember = /\bnot (?:yet )?a member\b/i.test(text) ? false : /\bmember\b/i.test(text);
		return {
			role: 'assistant',
			content: null,
			tool_calls: [{ id: 'call_check_in_1', type: 'function', function: { name: tool.function.name, arguments: JSON.stringify({ phoneNumber: phone, isMember }) } }],
		};
	}
	if (last?.role === 'tool') {
		// n8n hands the tool's output items back as JSON text.
		const [result] = JSON.parse(String(last.content)) as Array<{ checkInId?: string; phoneNumber?: string; error?: string }>;
		const content = result.checkInId
			? `You are checked in, ${result.phoneNumber}. Vipps check-in id: ${result.checkInId}`
			: `Sorry, I could not check you in: ${result.error}`;
		return { role: 'assistant', content };
	}
	return { role: 'assistant', content: `fake model: no script for a conversation ending with ${last?.role ?? 'nothing'}` };
}

function completion(request: ChatCompletionRequest, message: ChatMessage) {
	return {
		id: 'chatcmpl-fake',
		object: 'chat.completion',
		created: Math.floor(Date.now() / 1000),
		model: request.model,
		choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
		usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
	};
}

function reply(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
	res.end(text);
}
