import type {
  IHookFunctions,
  INodeType,
  INodeTypeDescription,
  IWebhookFunctions,
  IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import type { WebhookDelivery } from '../shared/protocol.generated';
import { CREDENTIAL_TYPE } from '../shared/rpc';
import { deliveryItem, eventsSubtitle, triggerProperties } from './events';
import { signatureMatches } from './signature';
import { checkExists, create, remove, settingsOf, subscriptionState, WEBHOOK_NAME } from './subscription';

export class OpenRouterCrewTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'OpenRouter Crew Trigger',
    name: 'openRouterCrewTrigger',
    icon: 'file:openRouterCrew.svg',
    group: ['trigger'],
    version: 1,
    subtitle: eventsSubtitle(),
    description:
      'Starts the workflow when crew-server sends a budget alert, a forecast alert, a spend anomaly or a finished crew run',
    defaults: { name: 'OpenRouter Crew Trigger' },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: CREDENTIAL_TYPE, required: true }],
    webhooks: [{ name: WEBHOOK_NAME, httpMethod: 'POST', responseMode: 'onReceived', path: 'openrouter-crew' }],
    properties: [
      {
        displayName:
          'crew-server POSTs each event to this workflow\'s webhook URL, signed. If the server cannot reach n8n, use the "OpenRouter Crew Poll Trigger" instead.',
        name: 'notice',
        type: 'notice',
        default: '',
      },
      ...triggerProperties,
    ],
  };

  webhookMethods = {
    default: {
      checkExists,
      create,
      delete: remove,
    } satisfies Record<'checkExists' | 'create' | 'delete', (this: IHookFunctions) => Promise<boolean>>,
  };

  async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
    const { secret } = subscriptionState(this);
    // n8n keeps the bytes as received beside the parsed body; the signature is over those bytes.
    const raw = (this.getRequestObject() as { rawBody?: Uint8Array }).rawBody;
    const delivery = this.getBodyData() as unknown as WebhookDelivery;
    const header = this.getHeaderData()['x-crew-signature'];
    if (!secret || !(await signatureMatches(secret, raw ?? JSON.stringify(delivery), header))) {
      // Express's response; its types are not among n8n-workflow's.
      const res = this.getResponseObject() as unknown as { status(code: number): { json(body: object): void } };
      res.status(401).json({ error: "X-Crew-Signature does not match this trigger's subscription" });
      return { noWebhookResponse: true };
    }
    const json = deliveryItem(settingsOf(this), delivery);
    if (!json) return { webhookResponse: { received: true, started: false } };
    return { workflowData: [this.helpers.returnJsonArray([json])] };
  }
}
