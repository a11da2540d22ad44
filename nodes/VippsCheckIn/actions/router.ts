import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import { runBatch, type OperationSetup } from './batch';
import * as checkIn from './checkIn/CheckIn.resource';
import * as qrCode from './qrCode/QrCode.resource';

const operations: Record<string, Record<string, OperationSetup<unknown>>> = {
	checkIn: { send: checkIn.send.setUp },
	qrCode: { getPhoneNumber: qrCode.getPhoneNumber.setUp },
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0) as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	return [await runBatch.call(this, operations[resource]?.[operation] ?? unsupported(resource, operation))];
}

/** An operation this version does not know fails when set up, like a bad option: as On Error says. */
function unsupported(resource: string, operation: string): OperationSetup<unknown> {
	return function (this: IExecuteFunctions) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	};
}
