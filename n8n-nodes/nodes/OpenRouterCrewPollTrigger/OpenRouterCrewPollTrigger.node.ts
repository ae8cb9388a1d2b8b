import type { INodeExecutionData, INodeType, INodeTypeDescription, IPollFunctions } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { CREDENTIAL_TYPE } from '../shared/rpc';
import { eventsSubtitle, triggerProperties } from '../OpenRouterCrewTrigger/events';
import { settingsOf } from '../OpenRouterCrewTrigger/subscription';
import { pollEvents } from './poll';

export class OpenRouterCrewPollTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'OpenRouter Crew Poll Trigger',
    name: 'openRouterCrewPollTrigger',
    icon: 'file:openRouterCrew.svg',
    group: ['trigger'],
    version: 1,
    subtitle: eventsSubtitle(),
    description:
      'Starts the workflow on budget alerts, forecast alerts, spend anomalies and finished crew runs, by asking crew-server on a schedule',
    defaults: { name: 'OpenRouter Crew Poll Trigger' },
    polling: true,
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: CREDENTIAL_TYPE, required: true }],
    properties: [
      {
        displayName:
          'Asks crew-server for new events at every poll. When the server can reach n8n, the "OpenRouter Crew Trigger" starts workflows at once instead.',
        name: 'notice',
        type: 'notice',
        default: '',
      },
      ...triggerProperties,
    ],
  };

  async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
    const items = await pollEvents(this, settingsOf(this));
    return items.length ? [this.helpers.returnJsonArray(items)] : null;
  }
}
