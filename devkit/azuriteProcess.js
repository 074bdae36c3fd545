// Runs Azurite in this process, so the PID the test harness holds is the server's.
// NOTE: the parent connects over IPC; when it goes away (normally or not) the channel closes and
// this server exits, so no Azurite outlives the test run.
'use strict';
process.on('disconnect', () => process.exit(0));
process.argv = [process.argv[0], 'azurite', ...process.argv.slice(2)];
require('azurite/dist/src/azurite.js');
