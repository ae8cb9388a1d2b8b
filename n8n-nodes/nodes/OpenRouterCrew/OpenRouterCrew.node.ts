import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import { callRpc, CREDENTIAL_TYPE } from '../shared/rpc';
import { OPERATIONS, resourceProperties } from './resources';

export class OpenRouterCrew implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'OpenRouter Crew',
    name: 'openRouterCrew',
    icon: 'file:openRouterCrew.svg',
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
    description: 'Budgets, costs, memories, archives and crew runs of an OpenRouter Crew server',
    defaults: { name: 'OpenRouter Crew' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: CREDENTIAL_TYPE, required: true }],
    properties: resourceProperties,
  };

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
        if (!this.continueOnFail()) {
          if (error instanceof NodeApiError || error instanceof NodeOperationError) throw error;
          throw new NodeOperationError(this.getNode(), error as Error, { itemIndex: i });
        }
        output.push({ json: failure(error), pairedItem: { item: i } });
      }
    }
    return [output];
  }
}

/** With "Continue On Fail", the item says what went wrong instead of stopping the workflow. */
function failure(error: unknown): IDataObject {
  const e = error as { message?: string; description?: string | null; context?: IDataObject };
  const json: IDataObject = { error: e.message ?? String(error) };
  if (e.description) json.description = e.description;
  if (e.context?.rpcCode !== undefined) json.code = e.context.rpcCode;
  if (e.context?.rpcData !== undefined) json.data = e.context.rpcData;
  return json;
}
