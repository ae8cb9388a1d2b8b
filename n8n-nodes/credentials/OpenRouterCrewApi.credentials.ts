import type {
  IAuthenticateGeneric,
  ICredentialTestRequest,
  ICredentialType,
  Icon,
  INodeProperties,
} from 'n8n-workflow';

export class OpenRouterCrewApi implements ICredentialType {
  name = 'openRouterCrewApi';

  displayName = 'OpenRouter Crew API';

  icon: Icon = 'file:openRouterCrew.svg';

  documentationUrl = 'https://github.com/openrouter-crew/openrouter-crew/blob/main/n8n-nodes/README.md#credential';

  properties: INodeProperties[] = [
    {
      displayName: 'Server URL',
      name: 'url',
      type: 'string',
      required: true,
      default: 'http://127.0.0.1:<port>',
      placeholder: 'http://127.0.0.1:8787',
      description:
        "Address of crew-server's HTTP transport. `crew server status` shows its HTTP port (replace <port> with it), which stays the same when the daemon restarts; `crew server start --port <n>` chooses it.",
    },
    {
      displayName: 'Token',
      name: 'token',
      type: 'string',
      typeOptions: { password: true },
      required: true,
      default: '',
      description: 'The bearer token that `crew server token` prints',
    },
  ];

  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: { headers: { Authorization: '=Bearer {{$credentials.token}}' } },
  };

  test: ICredentialTestRequest = {
    request: {
      baseURL: '={{$credentials.url.replace(/\\/+$/, "")}}',
      url: '/rpc',
      method: 'POST',
      headers: { 'x-crew-client': 'n8n/openrouter-crew' },
      body: { jsonrpc: '2.0', id: 1, method: 'server/health' },
      json: true,
    },
    rules: [
      {
        type: 'responseSuccessBody',
        properties: { key: 'result.ok', value: false, message: 'crew-server answered, but its store check failed' },
      },
    ],
  };
}
