using System.Diagnostics;
using System.Globalization;
using NeuralCore.Distributed;
using NeuralCore.Models.Training;

// Under `mpirun -np N mpi-exchange FLOATS [STEPS] [SHARDS]`: each rank holds its shards of a gradient vector of FLOATS
// values and reduces it STEPS times (after 10 unmeasured steps) with the reducer `neuralcore train` uses. Rank 0 prints
// one line: the processes, the vector size and the milliseconds per step (median and mean).
int floats = int.Parse(args[0], CultureInfo.InvariantCulture);
int steps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
int shards = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 6;
using var world = MpiWorld.Start();
var reducer = world.CreateReducer();
var (_, owned) = GradientShards.Owned(shards, world.Rank, world.Size);
var local = Enumerable.Range(0, owned).Select(k => new Memory<float>[] { Enumerable.Range(0, floats).Select(i => (float)((i + k) % 7) * 1e-3f).ToArray() }).ToArray();
Memory<float>[] sum = [new float[floats]];
var times = new List<double>();
for (int step = 1; step <= steps + 10; step++)
{
    long start = Stopwatch.GetTimestamp();
    reducer.Reduce(sum, GradientShards.FoldOnto(local, sum), step);
    if (step > 10) times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
}
times.Sort();
if (world.Rank == 0)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"processes {world.Size}  floats {floats}  bytes {4L * floats}  exchange ms/step: median {times[times.Count / 2]:F3}  mean {times.Average():F3}"));
world.Finish();
