'use strict';

// The do-it-yourself flow's two HTTP Request nodes, as a builder fills them in without this
// package: the token request and the check-in, with the same keys and Vipps-System-* headers as
// this node's credential. The batch bench and the storm each wrap them in workflows of their own.

const path = require('node:path');

const { N8N_VERSION } = require(path.join(__dirname, '..', 'scripts', 'real-n8n', 'install.js'));

const header = (name, value) => ({ name, value });

const systemHeaders = () => [
	header('Vipps-System-Name', 'n8n'),
	header('Vipps-System-Version', N8N_VERSION),
	header('Vipps-System-Plugin-Name', 'diy-http-request'),
	header('Vipps-System-Plugin-Version', '1.0.0'),
];

/** HTTP Request parameters for POST /accesstoken/get; `vipps` holds the credential's keys (the simulator's `credentialData()`). */
function tokenRequest(vipps) {
	return {
		method: 'POST',
		url: `${vipps.customBaseUrl}/accesstoken/get`,
		authentication: 'none',
		sendHeaders: true,
		specifyHeaders: 'keypair',
		headerParameters: {
			parameters: [
				header('client_id', vipps.clientId),
				header('client_secret', vipps.clientSecret),
				header('Ocp-Apim-Subscription-Key', vipps.subscriptionKey),
				header('Merchant-Serial-Number', vipps.merchantSerialNumber),
				...systemHeaders(),
			],
		},
		options: {},
	};
}

/** HTTP Request parameters for one check-in, with the token from the node "Get token", the body `jsonBody`, the answer read as text. */
function checkInRequest(vipps, jsonBody, options = {}) {
	return {
		method: 'POST',
		url: `${vipps.customBaseUrl}/point-of-sale/v1/loyalty-check-in`,
		authentication: 'none',
		sendHeaders: true,
		specifyHeaders: 'keypair',
		headerParameters: {
			parameters: [
				header('Authorization', "=Bearer {{ $('Get token').item.json.access_token }}"),
				header('Ocp-Apim-Subscription-Key', vipps.subscriptionKey),
				header('Merchant-Serial-Number', vipps.merchantSerialNumber),
				...systemHeaders(),
			],
		},
		sendBody: true,
		contentType: 'json',
		specifyBody: 'json',
		jsonBody,
		options: { response: { response: { responseFormat: 'text' } }, ...options },
	};
}

module.exports = { tokenRequest, checkInRequest };
