import { handleAccessToken } from './accessToken';
import { handleCheckIn } from './checkIn';
import type { SimulatorContext } from './context';
import { methodNotAllowed, resourceNotFound } from './gateway';
import type { IncomingCall, Reply } from './http';
import { handleQrExchange } from './qrExchange';

export const PATHS = {
	accessToken: '/accesstoken/get',
	checkIn: '/point-of-sale/v1/loyalty-check-in',
	qrExchange: '/qr/v1/exchange',
} as const;

type Handler = (call: IncomingCall, context: SimulatorContext) => Reply;

// Paths match exactly, as written in the contracts: a client using another spelling is told so by a 404.
const HANDLERS = new Map<string, Handler>([
	[PATHS.accessToken, handleAccessToken],
	[PATHS.checkIn, handleCheckIn],
	[PATHS.qrExchange, handleQrExchange],
]);

/** Every endpoint is a POST. */
export function route(call: IncomingCall, context: SimulatorContext): Reply {
	const handler = HANDLERS.get(call.path);
	if (handler === undefined) return resourceNotFound();
	if (call.method !== 'POST') return methodNotAllowed();
	return handler(call, context);
}
