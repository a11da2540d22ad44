import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

import * as checkIn from './checkIn/CheckIn.resource';
import * as qrCode from './qrCode/QrCode.resource';

const operations: Record<string, Record<string, (this: IExecuteFunctions) => Promise<INodeExecutionData[]>>> = {
	checkIn: { send: checkIn.send.execute },
	qrCode: { getPhoneNumber: qrCode.getPhoneNumber.execute },
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0) as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const execute = operations[resource]?.[operation];
	if (!execute) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	return [await execute.call(this)];
}
