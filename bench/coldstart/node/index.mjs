// The Node.js peer of the Rust functions: the DynamoDB client is built once at init, as
// they build theirs, and each invoke makes one GetItem on the users table.
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";

const table = process.env.USERS_TABLE;
if (!table) {
  throw new Error("missing required setting USERS_TABLE");
}
const client = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL || undefined });

export const handler = async () => {
  const output = await client.send(
    new GetItemCommand({ TableName: table, Key: { pk: { S: "WARM-UP" } } }),
  );
  return { statusCode: 200, body: JSON.stringify({ found: Boolean(output.Item) }) };
};
