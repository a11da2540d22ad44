import { parseArgs } from 'util';
import { PATHS, VippsSimulator, type GatewayThrottle, type GatewayWindow, type RecordedRequest, type SimulatorOptions } from './VippsSimulator';

const USAGE = `Usage: node dist/simulator/cli.js [options]   (npm run simulator -- [options])
  --port N                   listen on this port (default: a free one)
  --https                    serve TLS with a self-signed certificate made at start
  --latency MS               added to every answer (default 0)
  --token-lifetime S         access tokens expire after S seconds (default 3600)
  --environment production|test
                             test: check-in answers 500, as in the Merchant Test environment
  --rps N                    Azure API Management's rate limit in front of every path: 429 with
                             Retry-After in whole seconds, rounded up
    --window sliding|fixed   how it counts: the last 1,000 ms (default), or whole clock seconds
    --throttle instant|after-latency
                             when its 429 leaves: at once (default; API Management refuses at the
                             gateway, before the backend), or after the latency, as an answer does
  --help                     this text`;

function readOptions(args: string[]): SimulatorOptions {
	const { values } = parseArgs({
		args,
		options: {
			port: { type: 'string' },
			https: { type: 'boolean' },
			latency: { type: 'string' },
			'token-lifetime': { type: 'string' },
			rps: { type: 'string' },
			window: { type: 'string' },
			throttle: { type: 'string' },
			environment: { type: 'string' },
			help: { type: 'boolean' },
		},
	});
	if (values.help) {
		console.log(USAGE);
		process.exit(0);
	}
	const rps = optionalNumber('--rps', values.rps);
	for (const flag of ['window', 'throttle'] as const) {
		if (values[flag] !== undefined && rps === undefined) throw new Error(`--${flag} needs --rps`);
	}
	return {
		port: optionalNumber('--port', values.port),
		https: values.https,
		latencyMs: optionalNumber('--latency', values.latency),
		tokenLifetimeSeconds: optionalNumber('--token-lifetime', values['token-lifetime']),
		gateway: rps === undefined ? undefined : { requestsPerSecond: rps, window: windowOf(values.window), throttle: throttleOf(values.throttle) },
		environment: environmentOf(values.environment),
	};
}

function optionalNumber(flag: string, value: string | undefined): number | undefined {
	if (value === undefined) return undefined;
	const number = Number(value);
	if (value.trim() === '' || !Number.isFinite(number)) throw new Error(`${flag} needs a number, got '${value}'`);
	return number;
}

function environmentOf(value: string | undefined): SimulatorOptions['environment'] {
	if (value === undefined || value === 'production' || value === 'test') return value;
	throw new Error(`--environment is 'production' or 'test', got '${value}'`);
}

function windowOf(value: string | undefined): GatewayWindow | undefined {
	if (value === undefined || value === 'sliding' || value === 'fixed') return value;
	throw new Error(`--window is 'sliding' or 'fixed', got '${value}'`);
}

function throttleOf(value: string | undefined): GatewayThrottle | undefined {
	if (value === undefined || value === 'instant' || value === 'after-latency') return value;
	throw new Error(`--throttle is 'instant' or 'after-latency', got '${value}'`);
}

function printBanner(simulator: VippsSimulator, options: SimulatorOptions): void {
	const { clientId, clientSecret, subscriptionKey } = simulator.keys;
	console.log(`Vipps simulator listening on ${simulator.baseUrl}`);
	console.log(`  environment: ${options.environment ?? 'production'}${options.environment === 'test' ? ' (check-in answers 500, as in MT)' : ''}`);
	if (options.gateway) {
		const { requestsPerSecond, window = 'sliding', throttle = 'instant' } = options.gateway;
		const when = throttle === 'instant' ? '429 at once' : '429 after the latency';
		console.log(`  gateway:     ${requestsPerSecond} requests/s, ${window} one-second window, ${when}`);
	}
	if (simulator.caCertPath) {
		console.log(`  TLS:         self-signed certificate for localhost and 127.0.0.1; trust it with NODE_EXTRA_CA_CERTS=${simulator.caCertPath}`);
	}
	console.log(`  endpoints:   POST ${PATHS.accessToken}, POST ${PATHS.checkIn}, POST ${PATHS.qrExchange}`);
	// The demo keys are fake and only open this simulator, so printing them is safe.
	console.log('  demo keys (fake):');
	console.log(`    client_id:                 ${clientId}`);
	console.log(`    client_secret:             ${clientSecret}`);
	console.log(`    Ocp-Apim-Subscription-Key: ${subscriptionKey}`);
	console.log('Press Ctrl+C to stop.');
}

/** Method, path, status and fault only: the log line never carries a header or body. */
function logRequest(recorded: RecordedRequest): void {
	const status = recorded.status === 0 ? 'no answer' : String(recorded.status);
	const fault = recorded.fault === undefined ? '' : ` [fault: ${recorded.fault}]`;
	console.log(`${new Date(recorded.receivedAt).toISOString()} ${recorded.method} ${recorded.path} → ${status}${fault}`);
}

async function main(): Promise<void> {
	const options = readOptions(process.argv.slice(2));
	const simulator = await VippsSimulator.start({ ...options, onRequest: logRequest });
	printBanner(simulator, options);
	const stop = (): void => {
		console.log('Stopping the Vipps simulator.');
		void simulator.close();
	};
	process.once('SIGINT', stop);
	process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
	console.error(error instanceof Error ? error.message : error);
	console.error(USAGE);
	process.exitCode = 2;
});
