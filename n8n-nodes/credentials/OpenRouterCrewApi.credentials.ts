import type { IAuthenticateGeneric, ICredentialType, Icon, INodeProperties } from 'n8n-workflow';

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
      default: '',
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

  // The test is the OpenRouter Crew node's `methods.credentialTest` (nodes/shared/credential-test.ts): a request
  // declared here would fail with n8n's words instead of the server's.
  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: { headers: { Authorization: '=Bearer {{$credentials.token}}' } },
  };
}
