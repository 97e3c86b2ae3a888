using NeuralCore.Kernels.Cpu;
using NeuralCore.Models.Applications;
using NeuralCore.Models.Autoencoders;
using NeuralCore.Models.Data;
using NeuralCore.Models.Training;

namespace NeuralCore.Models.Tests.Applications;

public class FeatureExtractionTests
{
    [Fact]
    public void NearestCentroid_AssignsTheClassOfTheClosestMean()
    {
        // class 0 around (0, 0), class 5 around (10, 0)
        float[] train = [-1, 0, 1, 0, 9, 0, 11, 0];
        var classifier = NearestCentroid.Fit(train, [0, 0, 5, 5], 2);
        Assert.Equal([0, 5], classifier.Classes);
        Assert.Equal([0f, 0f, 10f, 0f], classifier.Centroids);
        Assert.Equal([0, 5, 5], classifier.Predict([4.9f, 3, 5.1f, -3, 100, 100]));
        Assert.Equal(2.0 / 3, classifier.Accuracy([4.9f, 3, 5.1f, -3, 100, 100], [0, 0, 5]), 12);
    }

    [Fact]
    public void VaeFeatures_BeatRawPixels_ForNearestCentroidOnMnist()
    {
        var mnist = MnistDataset.Load(RepoData.Path("data/mnist-10k"));
        var train = mnist.TrainImages;
        var test = mnist.TestImages;
        int[] trainLabels = mnist.TrainLabels.Select(b => (int)b).ToArray();
        int[] testLabels = mnist.TestLabels.Select(b => (int)b).ToArray();
        double pixels = NearestCentroid.Fit(train.Pixels, trainLabels, 784).Accuracy(test.Pixels, testLabels);

        var spec = new ModelSpec { Kind = "vae", InputFeatures = 784, Latent = 32, Hidden = [400] };
        var model = ModelFactory.Create(spec, new CpuBackend(), new SeededRandom(0));
        var trainer = new Trainer(model, new TrainingOptions { Epochs = 10 });
        for (int e = 0; e < 10; e++) trainer.RunEpoch(train.Pixels, train.Count, test.Pixels, 0);

        float[] trainFeatures = Features.Encode(model, train.Pixels, train.Count);
        float[] testFeatures = Features.Encode(model, test.Pixels, test.Count);
        Assert.Equal(test.Count * 32, testFeatures.Length);
        double features = NearestCentroid.Fit(trainFeatures, trainLabels, 32).Accuracy(testFeatures, testLabels);

        Assert.InRange(pixels, 0.78, 0.83);                   // nearest centroid on raw MNIST pixels: about 80 %
        Assert.True(features > pixels + 0.01, $"features {features:P2} should beat raw pixels {pixels:P2}");
    }
}
