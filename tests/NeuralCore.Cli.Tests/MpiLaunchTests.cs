namespace NeuralCore.Cli.Tests;

/// <summary>The launch defaults of a process that mpirun started.</summary>
public class MpiLaunchTests
{
    [Theory]
    [InlineData(2, null, 2)]      // not under mpirun: every core
    [InlineData(2, "1", 2)]       // one rank here
    [InlineData(2, "2", 1)]       // two ranks share two cores
    [InlineData(2, "3", 1)]       // oversubscribed: still one thread each
    [InlineData(16, "4", 4)]
    [InlineData(16, "x", 16)]     // not a count: every core
    public void DefaultThreads_ShareTheCoresAmongTheRanksOnThisMachine(int cores, string? localRanks, int expected) =>
        Assert.Equal(expected, MpiLaunch.DefaultThreads(cores, localRanks));
}
