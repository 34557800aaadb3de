/**
 * Prompt ensembles for the CLIP text scorer, written for salip (not taken from the paper's code).
 * Each ensemble describes the target organ as it looks in the modality, in several phrasings;
 * the scorer averages their embeddings (CLIP's zero-shot ensembling), which is steadier than any
 * single sentence. Users can pass their own sentences instead.
 */

export type PromptEnsembleName = 'lungs' | 'fetal-head' | 'brain' | 'heart';

export const PROMPT_ENSEMBLES: Readonly<Record<PromptEnsembleName, readonly string[]>> = {
  // Frontal chest X-ray; the retrieval keeps the two best candidates (one per lung).
  lungs: [
    'a chest x-ray of the lungs',
    'a lung field on a frontal chest radiograph',
    'the dark air-filled lung in a chest x-ray',
    'a radiograph showing one lung beside the heart',
    'the right or left lung on a chest x-ray',
    'an x-ray image of a human lung',
  ],
  // Standard head-circumference plane of a second-trimester fetal ultrasound.
  'fetal-head': [
    'an ultrasound image of a fetal head',
    'the skull of a fetus in a prenatal ultrasound',
    'an oval fetal head outlined by a bright skull in a sonogram',
    'a fetal brain seen in an obstetric ultrasound scan',
    'the head of an unborn baby on ultrasound',
    'a cross-section of a fetal skull in a grayscale ultrasound',
  ],
  // Axial T1-weighted MRI slice; the target is the brain without skull and scalp.
  brain: [
    'a brain in an MRI scan',
    'an axial MRI slice of the human brain',
    'the brain tissue inside the skull on a T1-weighted MRI',
    'a magnetic resonance image of the cerebrum',
    'grey and white matter of the brain in an MRI',
    'the brain without the skull in a head MRI',
  ],
  // Frontal chest X-ray; the target is the cardiac silhouette (JSRT / SCR's heart outline).
  heart: [
    'a chest X-ray showing the heart',
    'the cardiac silhouette on a frontal chest radiograph',
    'the heart shadow in the middle of the chest',
    'the heart between the lungs on a chest x-ray',
    'an x-ray image of the human heart and its borders',
    'the bright cardiac shadow above the diaphragm in a radiograph',
  ],
};
