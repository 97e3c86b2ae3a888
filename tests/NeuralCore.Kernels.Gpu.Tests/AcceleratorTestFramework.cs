using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("NeuralCore.Kernels.Gpu.Tests.AcceleratorTestFramework", "NeuralCore.Kernels.Gpu.Tests")]

namespace NeuralCore.Kernels.Gpu.Tests;

/// <summary>
/// xunit's own framework, except that the tests of a class marked <see cref="RequiresAcceleratorAttribute"/> are
/// discovered as skipped, with the reason, where the accelerator is missing. The per-accelerator suites inherit
/// their tests from an abstract class, and a test's own attribute cannot know which derived class it runs in, so the
/// decision is made here, where the class is known.
/// </summary>
public sealed class AcceleratorTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new Discoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Discoverer(IAssemblyInfo assembly, ISourceInformationProvider sourceProvider, IMessageSink diagnostics)
        : XunitTestFrameworkDiscoverer(assembly, sourceProvider, diagnostics)
    {
        protected override bool FindTestsForMethod(ITestMethod testMethod, bool includeSourceInformation, IMessageBus messageBus,
            ITestFrameworkDiscoveryOptions discoveryOptions)
        {
            string? device = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresAcceleratorAttribute))
                .Select(a => a.GetConstructorArguments().Single() as string).FirstOrDefault();
            bool isTest = testMethod.Method.GetCustomAttributes(typeof(FactAttribute)).Any();
            if (device == null || !isTest || Accelerators.Has(device))
                return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
            var skipped = new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
                discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, Accelerators.MissingReason(device));
            return ReportDiscoveredTestCase(skipped, includeSourceInformation, messageBus);
        }
    }
}
