import type { SimulatorContext } from './context';
import { checkSubscriptionKey } from './gateway';
import { emptyReply, type Reply } from './http';

/** The checks in front of every API call: the gateway's subscription key, then the bearer token (401 without body). */
export function authorizeApiCall(headers: Record<string, string>, context: SimulatorContext): Reply | undefined {
	return checkSubscriptionKey(headers, context.keys.subscriptionKey) ?? checkBearerToken(headers, context);
}

function checkBearerToken(headers: Record<string, string>, context: SimulatorContext): Reply | undefined {
	const match = /^Bearer (\S+)$/i.exec(headers['authorization'] ?? '');
	if (match && context.tokens.isValid(match[1], context.now())) return undefined;
	return emptyReply(401);
}
