/**
 * n8n's deduplication records (`this.helpers.checkProcessedAndRecord`, `removeProcessed`, …) for
 * the harness, in memory. n8n's CLI gives n8n-core a database-backed IDataDeduplicator
 * (packages/cli/src/deduplication/deduplication-helper.ts, one ProcessedData row per workflow and
 * context); this keeps the same rows in a Map and behaves as that class does in mode "entries":
 * values already present are "processed", every other is "new" and appended (duplicates within one
 * call are all "new"), the oldest dropped beyond maxEntries. Like the database, it reads a row,
 * yields, then writes it back: calls that overlap lose each other's writes, as they do in n8n.
 *
 * The records outlive an execution, as n8n's database does; `clear()` empties them between tests.
 */
import type {
	DeduplicationItemTypes,
	DeduplicationScope,
	ICheckProcessedContextData,
	ICheckProcessedOptions,
	IDataDeduplicator,
	IDeduplicationOutput,
} from 'n8n-workflow';

interface Row {
	mode: string;
	data: string[];
}

export class InMemoryProcessedData implements IDataDeduplicator {
	private readonly rows = new Map<string, Row>();
	private latencyMs = 0;

	/** Forgets every record and the latency. */
	clear(): void {
		this.rows.clear();
		this.latencyMs = 0;
	}

	/** How long a database round trip takes (default: one turn of the event loop). */
	setLatency(ms: number): void {
		this.latencyMs = ms;
	}

	/** The stored values of one node's row (test inspection). */
	valuesOf(workflowId: string, nodeId: string): string[] {
		return [...(this.rows.get(`${workflowId}|n:${nodeId}`)?.data ?? [])];
	}

	async checkProcessedAndRecord(
		items: DeduplicationItemTypes[],
		scope: DeduplicationScope,
		contextData: ICheckProcessedContextData,
		options: ICheckProcessedOptions,
	): Promise<IDeduplicationOutput> {
		const key = rowKey(scope, contextData);
		const row = this.read(key, options);
		await this.roundTrip();
		const values = items.map(String);
		const known = new Set(row?.data ?? []);
		const output: IDeduplicationOutput = { new: [], processed: [] };
		const data = [...(row?.data ?? [])];
		values.forEach((value, index) => {
			if (known.has(value)) output.processed.push(items[index]);
			else {
				output.new.push(items[index]);
				data.push(value);
			}
		});
		if (options.maxEntries) data.splice(0, data.length - options.maxEntries);
		this.rows.set(key, { mode: options.mode, data });
		return output;
	}

	async removeProcessed(
		items: DeduplicationItemTypes[],
		scope: DeduplicationScope,
		contextData: ICheckProcessedContextData,
		options: ICheckProcessedOptions,
	): Promise<void> {
		const key = rowKey(scope, contextData);
		const row = this.read(key, options);
		await this.roundTrip();
		if (!row) return;
		const data = [...row.data];
		for (const value of items.map(String)) {
			const index = data.indexOf(value);
			if (index !== -1) data.splice(index, 1);
		}
		this.rows.set(key, { mode: row.mode, data });
	}

	async clearAllProcessedItems(scope: DeduplicationScope, contextData: ICheckProcessedContextData): Promise<void> {
		this.rows.delete(rowKey(scope, contextData));
	}

	async getProcessedDataCount(scope: DeduplicationScope, contextData: ICheckProcessedContextData, options: ICheckProcessedOptions): Promise<number> {
		return this.read(rowKey(scope, contextData), options)?.data.length ?? 0;
	}

	/** What a database round trip gives other callers: time between the read and the write. */
	private async roundTrip(): Promise<void> {
		await new Promise<void>((resolve) => (this.latencyMs ? setTimeout(resolve, this.latencyMs) : setImmediate(resolve)));
	}

	private read(key: string, options: ICheckProcessedOptions): Row | undefined {
		if (options.mode !== 'entries') throw new Error(`The harness keeps deduplication records in mode "entries" only, not "${options.mode}"`);
		return this.rows.get(key);
	}
}

function rowKey(scope: DeduplicationScope, { workflow, node }: ICheckProcessedContextData): string {
	if (scope !== 'node') return `${workflow.id}|`;
	if (!node) throw new Error("No node information has been provided and so cannot use scope 'node'");
	return `${workflow.id}|n:${node.id}`;
}
