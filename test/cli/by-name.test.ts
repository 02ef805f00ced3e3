// The CLI loads only the command it runs, by name: every command of the list has its loader,
// under its own name, in the same order, and an unknown name has none.
import { commands } from '../../lib/cli/commands';
import { commandLoaders, loadCommand } from '../../lib/cli/commands/by-name';

test('a loader for each command, the same command object, in the order of --help', async () => {
  expect(Object.keys(commandLoaders)).toEqual(commands.map((c) => c.name));
  for (const c of commands) expect(await loadCommand(c.name)).toBe(c);
});

test('an unknown name, or a name inherited from Object, loads nothing', () => {
  expect(loadCommand('nosuch')).toBeUndefined();
  expect(loadCommand('toString')).toBeUndefined();
  expect(loadCommand('__proto__')).toBeUndefined();
});
