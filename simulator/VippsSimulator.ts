import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'http';
import { createServer as createHttpsServer } from 'https';
import type { AddressInfo, Socket } from 'net';
import { makeSelfSignedCertificate, type SelfSignedCertificate } from './certificate';
import type { SimulatorContext } from './context';
import { FaultBook } from './faults';
import { gatewayLimiter, rateLimited, type GatewayLimiter, type GatewayOptions, type GatewayThrottle } from './gateway';
import { emptyReply, flattenHeaders, JSON_CONTENT_TYPE, jsonReply, parseJson, type IncomingCall, type Reply } from './http';
import { redactHeaders, redactText } from './redaction';
import { formatRetryAfter } from './retryAfter';
import { validationProblem } from './checkIn';
import { PATHS, route } from './routes';
import { TokenStore } from './tokenStore';
import type {
	CheckInResponseStyle,
	Fault,
	FaultRule,
	PersonalQrCode,
	RecordedRequest,
	SimulatorKeys,
	SimulatorOptions,
} from './types';

export type {
	CheckInResponseStyle,
	Environment,
	Fault,
	FaultRule,
	RecordedRequest,
	RetryAfterForm,
	SimulatorKeys,
	SimulatorOptions,
} from './types';
export { PATHS } from './routes';
export { formatRetryAfter } from './retryAfter';
export type { GatewayOptions, GatewayThrottle, GatewayWindow } from './gateway';
export { derivedMsisdn } from './qrExchange';

/** Demo keys: fake, and safe to print. */
export const DEFAULT_SIMULATOR_KEYS: SimulatorKeys = Object.freeze({
	clientId: '5e1a7e00-c11e-4e1d-8000-000000000001',
	clientSecret: 'simulator-client-secret',
	subscriptionKey: 'simulator-subscription-key',
});

/** The MSN the simulator's own credentials use (any 4–7 digits pass). */
export const SIMULATOR_MERCHANT_SERIAL_NUMBER = '123456';

/** What to do with a request once decided. */
type Answer =
	/** `atOnce`: sent without the latency, as the gateway's instant 429 is. */
	| { kind: 'reply'; reply: Reply; atOnce?: boolean }
	| { kind: 'partialBody'; reply: Reply; end: 'hang' | 'close' }
	| { kind: 'reset' }
	/** `ms`: reset after that long; otherwise never answered. */
	| { kind: 'hang'; ms?: number };

/** The 200 body the partialBody fault starts to send. */
const PARTIAL_BODY = '{"id":"3f2c0d9e-5b1a-4c6e-9d7f-2a8b4c6d8e0f"}';
/** A body cut short: what a client gets from a proxy that truncated the answer. */
const MALFORMED_JSON = PARTIAL_BODY.slice(0, 20);

interface Waiter {
	count: number;
	resolve: (requests: readonly RecordedRequest[]) => void;
}

/** A local Vipps MobilePay API (access token, check-in, QR exchange) on loopback, with fault injection and a request log. */
export class VippsSimulator {
	readonly baseUrl: string;
	readonly keys: SimulatorKeys;
	/**
	 * In HTTPS mode, the PEM file of the simulator's self-signed certificate, for a client to
	 * trust (NODE_EXTRA_CA_CERTS for an n8n process); undefined over plain HTTP.
	 */
	readonly caCertPath: string | undefined;

	private readonly context: SimulatorContext;
	private readonly log: RecordedRequest[] = [];
	private readonly faults = new FaultBook();
	private readonly timers = new Set<NodeJS.Timeout>();
	private readonly waiters: Waiter[] = [];
	private readonly onRequest: ((recorded: RecordedRequest) => void) | undefined;
	private limiter: GatewayLimiter | undefined;
	private throttleMode: GatewayThrottle = 'instant';
	private latencyMs = 0;
	private seq = 0;
	private closing: Promise<void> | undefined;
	private connectionsToRefuse = 0;
	private refused = 0;
	private readonly listenOn: { port: number; host: string };

	private constructor(
		private readonly server: Server,
		private readonly certificate: SelfSignedCertificate | undefined,
		options: SimulatorOptions,
	) {
		this.keys = Object.freeze({ ...(options.keys ?? DEFAULT_SIMULATOR_KEYS) });
		this.baseUrl = baseUrlOf(certificate ? 'https' : 'http', server.address() as AddressInfo);
		this.caCertPath = certificate?.certPath;
		this.context = {
			keys: this.keys,
			now: options.now ?? Date.now,
			tokens: new TokenStore(),
			tokenLifetimeSeconds: wholeSeconds(options.tokenLifetimeSeconds ?? 3600),
			environment: options.environment ?? 'production',
			personalQrCodes: new Map(),
			checkInResponseStyle: options.checkInResponseStyle ?? 'jsonString',
		};
		this.onRequest = options.onRequest;
		this.setLatency(options.latencyMs ?? 0);
		this.setGatewayLimit(options.gateway);
		server.on('request', (req: IncomingMessage, res: ServerResponse) => {
			this.handle(req, res).catch(() => res.destroy());
		});
		const address = server.address() as AddressInfo;
		this.listenOn = { port: address.port, host: address.address };
		// For an HTTPS server this is the TCP connection, before the TLS handshake.
		server.on('connection', (socket: Socket) => {
			if (this.connectionsToRefuse <= 0) return;
			this.connectionsToRefuse--;
			this.refused++;
			socket.resetAndDestroy();
		});
	}

	/** The fields of a "Vipps MobilePay API" credential that point it at this simulator. */
	credentialData(): {
		environment: 'custom';
		customBaseUrl: string;
		clientId: string;
		clientSecret: string;
		subscriptionKey: string;
		merchantSerialNumber: string;
	} {
		return {
			environment: 'custom',
			customBaseUrl: this.baseUrl,
			clientId: this.keys.clientId,
			clientSecret: this.keys.clientSecret,
			subscriptionKey: this.keys.subscriptionKey,
			merchantSerialNumber: SIMULATOR_MERCHANT_SERIAL_NUMBER,
		};
	}

	static async start(options: SimulatorOptions = {}): Promise<VippsSimulator> {
		const certificate = options.https ? await makeSelfSignedCertificate() : undefined;
		// An https.Server is an http.Server for everything the simulator uses.
		const server = certificate ? (createHttpsServer({ cert: certificate.cert, key: certificate.key }) as unknown as Server) : createServer();
		try {
			await new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
					server.off('error', reject);
					resolve();
				});
			});
			return new VippsSimulator(server, certificate, options);
		} catch (error) {
			// Invalid options or a port in use: leave no listening server or certificate behind.
			server.close();
			certificate?.remove();
			throw error;
		}
	}

	/** The request log, in arrival order. */
	get requests(): readonly RecordedRequest[] {
		return this.log;
	}

	tokenRequests(): RecordedRequest[] {
		return this.requestsTo(PATHS.accessToken);
	}

	checkInRequests(): RecordedRequest[] {
		return this.requestsTo(PATHS.checkIn);
	}

	qrExchangeRequests(): RecordedRequest[] {
		return this.requestsTo(PATHS.qrExchange);
	}

	/** Resolves once the log holds at least `count` requests, so tests wait for arrival instead of sleeping. */
	waitForRequests(count: number): Promise<readonly RecordedRequest[]> {
		if (this.log.length >= count) return Promise.resolve(this.log);
		return new Promise((resolve) => this.waiters.push({ count, resolve }));
	}

	injectFault(rule: FaultRule): void {
		this.faults.add(rule);
	}

	clearFaults(): void {
		this.faults.clear();
		this.connectionsToRefuse = 0;
	}

	/**
	 * The next `count` connections are reset as soon as they are accepted, before a byte of the
	 * request is read: the request is neither answered nor recorded (see `refusedConnections`).
	 * Whichever requests come next meet it, the token request included.
	 */
	refuseConnections(count: number): void {
		if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`count must be a whole number of at least 0, got ${count}`);
		this.connectionsToRefuse = count;
	}

	/** How many connections `refuseConnections` reset so far. */
	get refusedConnections(): number {
		return this.refused;
	}

	/**
	 * Stops accepting connections (connections already open carry on): a client then meets a
	 * closed port, ECONNREFUSED, until `reopenPort()`.
	 */
	closePort(): void {
		if (this.server.listening) this.server.close();
	}

	/** Listens again on the same address and port after `closePort()`. */
	async reopenPort(): Promise<void> {
		if (this.server.listening || this.closing) return;
		await new Promise<void>((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(this.listenOn.port, this.listenOn.host, () => {
				this.server.off('error', reject);
				resolve();
			});
		});
	}

	setLatency(ms: number): void {
		if (!(ms >= 0)) throw new RangeError(`latency must be at least 0 ms, got ${ms}`);
		this.latencyMs = ms;
	}

	/** A new limit starts with an empty window; undefined turns the gateway limit off. */
	setGatewayLimit(gateway: GatewayOptions | undefined): void {
		const throttle = gateway?.throttle ?? 'instant';
		if (throttle !== 'instant' && throttle !== 'after-latency') {
			throw new RangeError(`the gateway's throttle is 'instant' or 'after-latency', got '${String(throttle)}'`);
		}
		this.limiter = gateway === undefined ? undefined : gatewayLimiter(gateway.requestsPerSecond, gateway.window ?? 'sliding');
		this.throttleMode = throttle;
	}

	setCheckInResponseStyle(style: CheckInResponseStyle): void {
		this.context.checkInResponseStyle = style;
	}

	/**
	 * Makes a scanned code exchange to `msisdn`; takes precedence over the built-in https://qr.vipps.no/p/… rule.
	 * `answer.timestamp`, when given, replaces the clock's seconds in the answer.
	 */
	registerPersonalQrCode(qrCode: string, msisdn: string, answer: Pick<PersonalQrCode, 'timestamp'> = {}): void {
		this.context.personalQrCodes.set(qrCode, { ...answer, msisdn });
	}

	/** Every access token issued so far, expired ones included, so tests can check none leaks into output. */
	issuedTokens(): string[] {
		return this.context.tokens.all();
	}

	/** Every token issued so far stops working (401 on use); later tokens are fine. */
	expireAllTokens(): void {
		this.context.tokens.expireAll();
	}

	resetLog(): void {
		this.log.length = 0;
	}

	/** Stops listening and ends every connection, hanging ones included, so test runners exit cleanly. */
	close(): Promise<void> {
		this.closing ??= this.shutDown();
		return this.closing;
	}

	private async shutDown(): Promise<void> {
		for (const timer of this.timers) clearTimeout(timer);
		this.timers.clear();
		// After closePort() the server no longer listens, and close() would refuse with ERR_SERVER_NOT_RUNNING.
		const closed = this.server.listening
			? new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())))
			: Promise.resolve();
		this.server.closeAllConnections();
		await closed;
		this.certificate?.remove();
	}

	private requestsTo(path: string): RecordedRequest[] {
		return this.log.filter((recorded) => recorded.method === 'POST' && recorded.path === path);
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const call = await readCall(req);
		const fault = this.faults.take(call.path, parseJson(call.rawBody));
		const answer = this.decide(call, fault);
		this.record(call, statusOf(answer), fault);
		if (!(answer.kind === 'reply' && answer.atOnce)) await this.delay(this.latencyMs + (fault?.kind === 'latency' ? fault.ms : 0));
		perform(answer, res);
		if (answer.kind === 'hang' && answer.ms !== undefined) {
			await this.delay(answer.ms);
			if (!res.destroyed) res.socket?.resetAndDestroy();
		}
	}

	/** Decided on arrival, so the clock, token validity and rate window are those of the moment the request came in. */
	private decide(call: IncomingCall, fault: Fault | undefined): Answer {
		switch (fault?.kind) {
			case 'reset':
			case 'dropped':
				return { kind: 'reset' };
			case 'hang':
				return { kind: 'hang', ms: fault.ms };
			case 'partialBody':
				return { kind: 'partialBody', reply: partialBodyReply(fault.status ?? 200), end: fault.end ?? 'hang' };
			case 'malformedJson':
				return { kind: 'reply', reply: jsonBodyReply(MALFORMED_JSON) };
			case 'status':
				return { kind: 'reply', reply: statusFaultReply(fault, this.context.now()) };
			case 'badRequest':
				return { kind: 'reply', reply: validationProblem(fault.invalidParams) };
			case 'expiredToken':
				return { kind: 'reply', reply: emptyReply(401) };
			case 'redirect':
				return { kind: 'reply', reply: emptyReply(fault.status, { Location: fault.location }) };
			default: {
				// No fault, or only added latency: the gateway and the API answer as usual.
				const admission = this.limiter?.tryAdmit(this.context.now());
				if (admission?.admitted === false) {
					return { kind: 'reply', reply: rateLimited(admission.retryAfterSeconds), atOnce: this.throttleMode === 'instant' };
				}
				return { kind: 'reply', reply: route(call, this.context) };
			}
		}
	}

	private record(call: IncomingCall, status: number, fault: Fault | undefined): void {
		const secrets = [this.keys.clientSecret, this.keys.subscriptionKey];
		const rawBody = redactText(call.rawBody, secrets);
		const recorded: RecordedRequest = {
			seq: ++this.seq,
			receivedAt: this.context.now(),
			method: call.method,
			path: call.path,
			headers: redactHeaders(call.headers, secrets),
			body: parseJson(rawBody),
			rawBody,
			status,
			...(fault && { fault: fault.kind }),
		};
		this.log.push(recorded);
		this.onRequest?.(recorded);
		this.wakeWaiters();
	}

	private wakeWaiters(): void {
		for (const waiter of [...this.waiters]) {
			if (this.log.length < waiter.count) continue;
			this.waiters.splice(this.waiters.indexOf(waiter), 1);
			waiter.resolve(this.log);
		}
	}

	/** Timers are tracked so close() can cancel them. */
	private delay(ms: number): Promise<void> {
		if (ms <= 0) return Promise.resolve();
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.timers.delete(timer);
				resolve();
			}, ms);
			this.timers.add(timer);
		});
	}
}

async function readCall(req: IncomingMessage): Promise<IncomingCall> {
	const chunks: Buffer[] = [];
	for await (const chunk of req) chunks.push(chunk as Buffer);
	return {
		method: req.method ?? 'GET',
		path: (req.url ?? '/').split('?')[0],
		headers: flattenHeaders(req.headers),
		rawBody: Buffer.concat(chunks).toString('utf8'),
	};
}

function jsonBodyReply(body: string): Reply {
	return { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body };
}

function statusFaultReply(fault: Extract<Fault, { kind: 'status' }>, nowMs: number): Reply {
	const { retryAfterSeconds } = fault;
	const header = retryAfterSeconds === undefined ? undefined : formatRetryAfter(retryAfterSeconds, fault.retryAfterForm ?? 'delta-seconds', nowMs);
	if (fault.status === 429) return rateLimited(retryAfterSeconds, header);
	return emptyReply(fault.status, header === undefined ? {} : { 'Retry-After': header });
}

/** The body a partialBody fault starts to send: the check-in's 200, or an error body of the status's kind. */
function partialBodyReply(status: 200 | 400 | 500 | 503): Reply {
	if (status === 200) return jsonBodyReply(PARTIAL_BODY);
	if (status === 400) return validationProblem([{ name: 'phoneNumber', reason: 'The user is not a Vipps user.' }]);
	return jsonReply(status, { type: 'about:blank', title: status === 500 ? 'Internal Server Error' : 'Service Unavailable', status });
}

/** 0 when no status line is ever sent. */
function statusOf(answer: Answer): number {
	return answer.kind === 'reply' || answer.kind === 'partialBody' ? answer.reply.status : 0;
}

function perform(answer: Answer, res: ServerResponse): void {
	if (res.destroyed) return;
	switch (answer.kind) {
		case 'reply':
			writeHead(res, answer.reply);
			res.end(answer.reply.body);
			return;
		case 'partialBody':
			// Content-Length promises the whole body; only half of it ever comes.
			writeHead(res, answer.reply);
			res.write(answer.reply.body.slice(0, Math.floor(answer.reply.body.length / 2)));
			// Or the server closes the connection once the half has left (a FIN, so the half surely arrives first).
			if (answer.end === 'close') res.write('', () => res.socket?.end());
			return;
		case 'reset':
			// A TCP RST, so the client sees ECONNRESET rather than a clean close.
			res.socket?.resetAndDestroy();
			return;
		case 'hang':
			// Never answered; close() ends the connection.
			return;
	}
}

function writeHead(res: ServerResponse, reply: Reply): void {
	res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(Buffer.byteLength(reply.body)) });
}

function baseUrlOf(scheme: 'http' | 'https', address: AddressInfo): string {
	const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
	return `${scheme}://${host}:${address.port}`;
}

function wholeSeconds(seconds: number): number {
	if (!Number.isInteger(seconds) || seconds < 1) {
		throw new RangeError(`tokenLifetimeSeconds must be a whole number of at least 1, got ${seconds}`);
	}
	return seconds;
}
