package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DocumentSpec is what the user asks for: the same fields as doc-controller's Document.
type DocumentSpec struct {
	// Title of the document (1 to 256 characters).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Title string `json:"title"`
	// Content of the document (may be empty).
	// +optional
	Content string `json:"content,omitempty"`
	// Hide the document: the controller records a HideRequested event and sets status.hidden.
	// +optional
	Hide bool `json:"hide,omitempty"`
	// Publish the document as a ConfigMap of the same name (unless it is hidden).
	// +optional
	Publish bool `json:"publish,omitempty"`
}

// DocumentStatus is what the controller observed and did.
type DocumentStatus struct {
	// Hidden mirrors spec.hide once reconciled.
	Hidden bool `json:"hidden"`
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, and Published when the document asks to be published.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// PublishedConfigMap is the name of the ConfigMap the document is published as.
	// +optional
	PublishedConfigMap string `json:"publishedConfigMap,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=doc

// Document is the Schema for the documents API.
type Document struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DocumentSpec   `json:"spec,omitempty"`
	Status DocumentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DocumentList contains a list of Document.
type DocumentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Document `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Document{}, &DocumentList{})
}
