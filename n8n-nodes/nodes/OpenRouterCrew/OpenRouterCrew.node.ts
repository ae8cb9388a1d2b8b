import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import { CREDENTIAL_TEST, testCredential } from '../shared/credential-test';
import { callRpc, CREDENTIAL_TYPE } from '../shared/rpc';
import { OPERATIONS, resourceProperties, subtitleExpression } from './resources';

export class OpenRouterCrew implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'OpenRouter Crew',
    name: 'openRouterCrew',
    icon: 'file:openRouterCrew.svg',
    group: ['transform'],
    version: 1,
    subtitle: subtitleExpression(resourceProperties),
    description: 'Budgets, costs, memories, archives and crew runs of an OpenRouter Crew server',
    defaults: { name: 'OpenRouter Crew' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: CREDENTIAL_TYPE, required: true, testedBy: CREDENTIAL_TEST }],
    properties: resourceProperties,
  };

  methods = { credentialTest: { [CREDENTIAL_TEST]: testCredential } };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const input = this.getInputData();
    const output: INodeExecutionData[] = [];
    for (let i = 0; i < input.length; i++) {
      try {
        const resource = this.getNodeParameter('resource', i);
        const operationName = this.getNodeParameter('operation', i);
        const op = OPERATIONS[resource]?.[operationName];
        if (!op)
          throw new NodeOperationError(
            this.getNode(),
            `This node has no operation "${operationName}" on "${resource}"`,
            {
              itemIndex: i,
            },
          );
        const result = await callRpc(this, op.method, op.params(this, i), {
          itemIndex: i,
          timeoutMs: op.timeoutMs?.(this, i),
        });
        for (const json of op.output(result)) output.push({ json, pairedItem: { item: i } });
      } catch (error) {
        const nodeError =
          error instanceof NodeApiError || error instanceof NodeOperationError
            ? error
            : new NodeOperationError(this.getNode(), error as Error, { itemIndex: i });
        if (!this.continueOnFail()) throw nodeError;
        output.push({ json: failure(nodeError), pairedItem: { item: i } });
      }
    }
    return [output];
  }
}

/**
 * With "Continue On Fail", the item says what went wrong instead of stopping the workflow. n8n-core sends an item to
 * the error output ("Continue (using error output)") when its JSON holds nothing but `error`, `message` and `details`,
 * so what the server said beyond its message goes in `details`. (Setting the item's `error` would route it too, but
 * n8n then replaces the JSON with the message alone.)
 */
function failure(e: NodeApiError | NodeOperationError): IDataObject {
  const details: IDataObject = {};
  if (e.description) details.description = e.description;
  if (e.context?.rpcCode !== undefined) details.code = e.context.rpcCode;
  if (e.context?.rpcData !== undefined) details.data = e.context.rpcData;
  return { error: e.message, details };
}
