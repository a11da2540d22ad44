import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { router } from './actions/router';
import { versionDescription } from './actions/versionDescription';
import { vippsMobilePayApiTest } from './methods/credentialTest';

export class VippsCheckIn implements INodeType {
	description: INodeTypeDescription = versionDescription;

	methods = { credentialTest: { vippsMobilePayApiTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
