/**
 * n8n 2.x evaluates expressions in its VM engine (@n8n/expression-runtime, on isolated-vm): an
 * expression that throws there, `{{ $json.shop.msn.trim() }}` for an item with no `shop`, makes the
 * parameter read throw. The harness runs on Node 20, where isolated-vm cannot build, so n8n-workflow
 * falls back to its legacy engine, which turns such an error into null (Expression.renderExpression
 * rethrows only ExpressionErrors): a node in the harness then reads null where n8n would have thrown.
 *
 * `throwExpressionErrors()` makes the legacy engine throw them too, as an ExpressionError with the
 * same message (the original as its cause), so a test sees what a user's n8n does. It changes
 * n8n-workflow's module state: every workflow run afterwards in this process (under Jest: in this
 * test file) throws them.
 */
import { ExpressionError } from 'n8n-workflow';
import { setErrorHandler } from 'n8n-workflow/dist/cjs/expression-evaluator-proxy.js';

export function throwExpressionErrors(): void {
	setErrorHandler((error: Error) => {
		if (error instanceof ExpressionError) throw error;
		throw new ExpressionError(error.message, { cause: error });
	});
}
